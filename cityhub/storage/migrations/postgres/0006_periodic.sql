-- cityhub schema 6: when a periodic subscription (timeInterval) is next due, shared by workers
-- so that only one of them sends each period's notification.
ALTER TABLE subscription_status ADD COLUMN next_due DOUBLE PRECISION;
