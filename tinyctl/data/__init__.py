"""The warehouse's data: seeds (`tinyctl seed`) and the ETL tests (`tinyctl test-etl`)."""
