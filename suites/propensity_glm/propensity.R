# propensity.R -- campaign propensity model (marketing analytics, R team).
#
# Logistic regression of "took the product up when contacted" on customer features, the
# contact channel and the product, fitted on the contacts before the training cut-off.
# Every (de-duplicated) customer is then scored for every product, for the channel the next
# campaign will use. Ran on the HDInsight edge node with Rscript. Migrated unchanged but for
# one thing (see MIGRATION.md): the hard-coded dates and thresholds are read from params.
#
#   score(tables, params) -> list(propensity_scores = ..., propensity_coefficients = ...)

clean_customers <- function(customers, as_of, income_cap_quantile) {
  # The CRM extract has duplicate customer records: keep the latest signup (then region).
  customers <- customers[!is.na(customers$customer_id), ]
  customers <- customers[order(customers$customer_id, -as.numeric(customers$signup_date),
                               customers$region), ]
  customers <- customers[!duplicated(customers$customer_id), ]

  # Birth dates come as yyyy-MM-dd or dd/MM/yyyy (or are missing).
  birth <- as.Date(customers$birth_date, format = "%Y-%m-%d")
  dmy <- is.na(birth) & !is.na(customers$birth_date)
  birth[dmy] <- as.Date(customers$birth_date[dmy], format = "%d/%m/%Y")
  age <- as.numeric(as_of - birth) / 365.25

  # Incomes are text: "52,300.00", "52300.0" or "N/A".
  income <- suppressWarnings(as.numeric(gsub(",", "", customers$annual_income, fixed = TRUE)))
  cap <- quantile(income, probs = income_cap_quantile, na.rm = TRUE, names = FALSE)
  income <- pmin(income, cap)

  # Missing values: median imputation (the medians of the whole customer base).
  age[is.na(age)] <- median(age, na.rm = TRUE)
  income[is.na(income)] <- median(income, na.rm = TRUE)

  data.frame(customer_id = customers$customer_id,
             age = age,
             log_income = log(income),
             segment = customers$segment,
             region = customers$region,
             stringsAsFactors = FALSE)
}

score <- function(tables, params) {
  as_of <- as.Date(params$as_of_date)
  train_end <- as.Date(params$train_end)

  features <- clean_customers(tables$customers, as_of, params$income_cap_quantile)
  products <- tables$products[order(tables$products$product_id), ]

  # Training set: contacts before the cut-off, with the customer's features and product.
  contacts <- tables$contacts
  contacts <- contacts[contacts$contact_date < train_end, ]
  train <- merge(contacts, features, by = "customer_id")
  train <- merge(train, products[, c("product_id", "product_name")], by = "product_id")
  train <- train[order(train$contact_id), ]
  train$converted <- as.integer(train$converted)

  fit <- glm(converted ~ age + log_income + segment + region + channel + product_name,
             family = binomial(link = "logit"), data = train)

  s <- summary(fit)$coefficients
  coefficients <- data.frame(term = rownames(s),
                             estimate = s[, "Estimate"],
                             std_error = s[, "Std. Error"],
                             z_value = s[, "z value"],
                             p_value = s[, "Pr(>|z|)"],
                             n_obs = as.integer(nrow(train)),
                             stringsAsFactors = FALSE)
  rownames(coefficients) <- NULL

  # Score every customer for every product, contacted through the campaign channel.
  scores <- NULL
  for (i in seq_len(nrow(products))) {
    newdata <- features
    newdata$product_name <- products$product_name[i]
    newdata$channel <- params$score_channel
    p <- predict(fit, newdata = newdata, type = "response")
    scores <- rbind(scores, data.frame(customer_id = features$customer_id,
                                       product_id = as.integer(products$product_id[i]),
                                       product_name = products$product_name[i],
                                       propensity = as.numeric(p),
                                       stringsAsFactors = FALSE))
  }
  rownames(scores) <- NULL

  list(propensity_scores = scores, propensity_coefficients = coefficients)
}
