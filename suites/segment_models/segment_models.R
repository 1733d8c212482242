# segment_models.R -- premium models per region (pricing analytics, R team).
#
# For one region: a linear model of log(annual premium) on the policyholder's age and
# log(income) and the product, fitted on the region's in-force policies; returns the
# coefficient table. On the legacy platform a driver loop called it once per region; here
# the harness runs it inside the Spark workers, one call per region (group_by: region).
#
#   fit_region(tables, params) -> data.frame(region, term, estimate, std_error, ...)

fit_region <- function(tables, params) {
  d <- tables$segment_features
  region <- d$region[1]

  # Complete, positive cases only; the order of the rows fixes the order of the sums.
  d <- d[!is.na(d$premium) & d$premium > 0 & !is.na(d$income) & d$income > 0 &
           !is.na(d$age), ]
  d <- d[order(d$policy_id), ]

  # Income outliers (data-entry errors, 100x) are capped at the region's quantile.
  cap <- quantile(d$income, probs = params$income_cap_quantile, names = FALSE)
  d$income <- pmin(d$income, cap)

  if (nrow(d) < params$min_policies) {
    return(data.frame(region = character(0), term = character(0), estimate = numeric(0),
                      std_error = numeric(0), t_value = numeric(0), p_value = numeric(0),
                      n_obs = integer(0), r_squared = numeric(0)))
  }

  fit <- lm(log(premium) ~ age + log(income) + product_name, data = d)
  s <- summary(fit)
  cf <- s$coefficients
  out <- data.frame(region = region,
                    term = rownames(cf),
                    estimate = cf[, "Estimate"],
                    std_error = cf[, "Std. Error"],
                    t_value = cf[, "t value"],
                    p_value = cf[, "Pr(>|t|)"],
                    n_obs = as.integer(nrow(d)),
                    r_squared = s$r.squared,
                    stringsAsFactors = FALSE)
  rownames(out) <- NULL
  out
}
