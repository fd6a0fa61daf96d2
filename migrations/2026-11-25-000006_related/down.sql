DROP TABLE related_people;
