"""The snapshot store: schema, engine factory and the batched writer."""
