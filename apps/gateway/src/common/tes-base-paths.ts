/**
 * Where the TES API is served: the TES 1.1 base path, and `/v1`, where TES servers before 1.1
 * (and Funnel still) serve it. Funnel's CLI keeps only the host of its `--server` and calls
 * `/v1/tasks`; py-tes probes `/ga4gh/tes/v1`, then `/v1`.
 */
export const TES_BASE_PATHS = ['ga4gh/tes/v1', 'v1'];
