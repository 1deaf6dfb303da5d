"""The job runtime: the queue protocol domains use, and the two runners (ARQ on Redis, and
in-process for the embedded default). It knows no domain: `expense_wise.jobs` lists the jobs
and periodic entries and hands them to a runner."""
