DROP TABLE nhs_number_allocation;
