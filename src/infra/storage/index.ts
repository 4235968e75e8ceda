// The blob store the configuration names: the local filesystem under DATA_DIR, or S3-compatible.
import type { Config } from '../../config.js';
import { createLocalStore } from './local.js';
import type { BlobStore } from './storage.js';

export async function createStore(config: Config): Promise<BlobStore> {
  if (config.STORAGE_DRIVER === 's3') {
    const { createS3Store } = await import('./s3.js');
    return createS3Store({
      endpoint: config.S3_ENDPOINT,
      region: config.S3_REGION,
      bucket: config.S3_BUCKET!,
      accessKeyId: config.S3_ACCESS_KEY_ID,
      secretAccessKey: config.S3_SECRET_ACCESS_KEY,
      forcePathStyle: config.S3_FORCE_PATH_STYLE,
      prefix: config.S3_PREFIX,
    });
  }
  return createLocalStore(config.DATA_DIR);
}
