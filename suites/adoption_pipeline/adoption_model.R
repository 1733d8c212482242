# adoption_model.R -- step 2 of 3 of the adoption pipeline (marketing analytics, R team).
#
# A binomial GLM on the aggregated training cells built by pipeline_features.hql:
#   cbind(conversions, contacts - conversions) ~ region + segment + age_band + income_band
#                                                + history_band + channel + product_name
# then every customer profile (pipeline_profiles) is scored for every product, contacted
# through the campaign channel. Working on cells and profiles keeps R's share small: a few
# thousand rows whatever the number of customers. Legacy R script (HDInsight edge node),
# migrated unchanged but for the params (were hard-coded; MIGRATION.md).
#
#   fit_and_score(tables, params) -> list(adoption_cell_scores = ..., adoption_coefficients = ...)

PROFILE <- c("region", "segment", "age_band", "income_band", "history_band")

fit_and_score <- function(tables, params) {
  train <- tables$pipeline_train
  profiles <- tables$pipeline_profiles
  products <- tables$products

  # Fixed row order: the same cells in the same order give the same fit, bit for bit.
  train <- train[do.call(order, train[, c(PROFILE, "channel", "product_name")]), ]

  fit <- glm(cbind(conversions, contacts - conversions) ~
               region + segment + age_band + income_band + history_band + channel +
               product_name,
             family = binomial(link = "logit"), data = train)

  s <- summary(fit)$coefficients
  coefficients <- data.frame(term = rownames(s),
                             estimate = s[, "Estimate"],
                             std_error = s[, "Std. Error"],
                             z_value = s[, "z value"],
                             cells = as.integer(nrow(train)),
                             contacts = as.integer(sum(train$contacts)),
                             stringsAsFactors = FALSE)
  rownames(coefficients) <- NULL

  # Every profile x product, through the campaign channel.
  products <- products[order(products$product_id), c("product_id", "product_name")]
  profiles <- profiles[do.call(order, profiles[, PROFILE]), ]
  grid <- merge(profiles, products, by = NULL)
  grid$channel <- params$score_channel

  # A level the training cells never saw cannot be scored: its propensity stays NA.
  known <- rep(TRUE, nrow(grid))
  for (v in c(PROFILE, "channel", "product_name")) {
    known <- known & grid[[v]] %in% fit$xlevels[[v]]
  }
  grid$propensity <- NA_real_
  grid$propensity[known] <- predict(fit, newdata = grid[known, ], type = "response")

  scores <- data.frame(grid[, PROFILE],
                       product_id = as.integer(grid$product_id),
                       customers = as.integer(grid$customers),
                       propensity = grid$propensity,
                       stringsAsFactors = FALSE)
  rownames(scores) <- NULL

  list(adoption_cell_scores = scores, adoption_coefficients = coefficients)
}
