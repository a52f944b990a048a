-- Language tags in their canonical BCP-47 case (language lower-case, script title-case, region
-- upper-case: `pt-br` and `pt-BR` become one value). The rows are rewritten by the data step of
-- migrate.rs (`canonical_languages`), which applies the same normalization as ingest.
SELECT 1;
