"""The core: models, schemas, rights, lifecycles and the only code that changes tickets."""
