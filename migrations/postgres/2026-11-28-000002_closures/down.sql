DROP TABLE volumes;
DROP TABLE decisions;
DROP TABLE closures;
