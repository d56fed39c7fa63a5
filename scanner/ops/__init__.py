"""Operations of a long-lived nightly job: run lock, history and retention, resume, shards."""
