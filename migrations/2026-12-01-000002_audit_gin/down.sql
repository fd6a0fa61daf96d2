ALTER INDEX audit_events_other_nhs_numbers RESET (fastupdate);
