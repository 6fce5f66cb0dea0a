-- cityhub schema 13: rule states looked up by entity across every rule at once
CREATE INDEX rule_state_key ON rule_state (tenant, key);
