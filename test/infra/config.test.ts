import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.js';

describe('configuration', () => {
  it('has defaults for a fresh machine', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      PORT: 3000,
      HOST: '127.0.0.1',
      DATA_DIR: './data',
      LOG_LEVEL: 'info',
      MIGRATE_ON_START: true,
    });
    expect(config.DATABASE_URL).toBeUndefined();
  });

  it('treats an empty DATABASE_URL as unset', () => {
    expect(loadConfig({ DATABASE_URL: '' }).DATABASE_URL).toBeUndefined();
  });

  it.each([
    [{ PORT: 'abc' }, 'PORT'],
    [{ PORT: '70000' }, 'PORT'],
    [{ DATABASE_URL: 'mysql://localhost/x' }, 'DATABASE_URL'],
    [{ LOG_LEVEL: 'loud' }, 'LOG_LEVEL'],
    [{ MIGRATE_ON_START: 'perhaps' }, 'MIGRATE_ON_START'],
    [{ DATABASE_POOL_MAX: '0' }, 'DATABASE_POOL_MAX'],
  ])('names the variable of a wrong value (%o)', (env, variable) => {
    expect(() => loadConfig(env)).toThrow(ConfigError);
    try {
      loadConfig(env);
    } catch (error) {
      expect((error as ConfigError).issues[0]).toMatch(new RegExp(`^${variable}: `));
    }
  });

  it('refuses an idle timeout not below the staging age (a stalled upload must be cut before it could be swept)', () => {
    expect(() => loadConfig({ IDLE_TIMEOUT_MS: '600000', PHOTO_STAGING_MAX_AGE_MS: '600000' })).toThrow(
      /IDLE_TIMEOUT_MS: must be below PHOTO_STAGING_MAX_AGE_MS/,
    );
    expect(() => loadConfig({ PHOTO_STAGING_MAX_AGE_MS: '30000' })).toThrow(/IDLE_TIMEOUT_MS/); // the 60 s default idle timeout
    expect(loadConfig({ IDLE_TIMEOUT_MS: '20000', PHOTO_STAGING_MAX_AGE_MS: '30000' })).toMatchObject({
      IDLE_TIMEOUT_MS: 20000,
      REQUEST_TIMEOUT_MS: 600000,
    });
    expect(loadConfig({})).toMatchObject({ IDLE_TIMEOUT_MS: 60000, REQUEST_TIMEOUT_MS: 600000 });
  });

  it('reports every wrong variable at once', () => {
    expect(() => loadConfig({ PORT: 'x', LOG_LEVEL: 'y' })).toThrow(/PORT[\s\S]*LOG_LEVEL|LOG_LEVEL[\s\S]*PORT/);
  });

  it("has the summary streams' limits and intervals, and refuses ones that cannot work", () => {
    expect(loadConfig({})).toMatchObject({
      STREAM_MAX_PER_TOKEN: 4,
      STREAM_MAX_PER_IP: 100,
      STREAM_HEARTBEAT_MS: 15_000,
      STREAM_POLL_MS: 250,
      STREAM_MIN_INTERVAL_MS: 1000,
    });
    expect(() => loadConfig({ STREAM_MAX_PER_TOKEN: '0' })).toThrow(/STREAM_MAX_PER_TOKEN/);
    expect(() => loadConfig({ STREAM_POLL_MS: '1' })).toThrow(/STREAM_POLL_MS/);
    expect(() => loadConfig({ STREAM_HEARTBEAT_MS: 'soon' })).toThrow(/STREAM_HEARTBEAT_MS/);
  });

  it('parses booleans and numbers', () => {
    expect(loadConfig({ MIGRATE_ON_START: 'false', DATABASE_POOL_MAX: '25', DOCS_ENABLED: '0' })).toMatchObject({
      MIGRATE_ON_START: false,
      DATABASE_POOL_MAX: 25,
      DOCS_ENABLED: false,
    });
  });
});
