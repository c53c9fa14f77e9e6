// Keeps hyphae_bench_common non-empty before any shared bench code exists.
