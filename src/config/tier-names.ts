// The tier names of ringfence.yaml, apart from the schema so that resolving a tier needs no zod.
export const TIERS = ['dev', 'staging', 'prod'] as const;
export type TierName = (typeof TIERS)[number];
