/**
 * Property tests run from a fixed seed so CI is repeatable; set FC_SEED to
 * explore other sequences (a failure prints the seed and path to replay it).
 */
import fc from 'fast-check';

fc.configureGlobal({ seed: process.env.FC_SEED ? Number(process.env.FC_SEED) : 20261125 });
