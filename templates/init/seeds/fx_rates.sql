-- Reference exchange rates used by the staging_orders DAG (analytics.daily_revenue).
-- Idempotent: safe to run any number of times; the rows end up the same.
-- rate_to_eur = how many EUR one unit of the currency is worth.
CREATE TABLE IF NOT EXISTS staging.fx_rates (
    currency    char(3) PRIMARY KEY,
    rate_to_eur numeric NOT NULL CHECK (rate_to_eur > 0)
);

INSERT INTO staging.fx_rates (currency, rate_to_eur) VALUES
    ('EUR', 1.0000),
    ('USD', 0.8600),
    ('GBP', 1.1500)
ON CONFLICT (currency) DO UPDATE SET rate_to_eur = EXCLUDED.rate_to_eur;
