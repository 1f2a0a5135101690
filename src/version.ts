/** A release label baked into dist/berth by its build (BERTH_BUILD_VERSION=...), else the source's version. */
declare const BERTH_BUILD_VERSION: string | undefined;

export const VERSION = typeof BERTH_BUILD_VERSION === 'string' ? BERTH_BUILD_VERSION : '0.1.0';
