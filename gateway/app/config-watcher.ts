import { watch, type FSWatcher } from 'node:fs';
import { basename, dirname } from 'node:path';
import { loadConfigFile, type ConfigProblem, type LoadedConfig } from '../../config/load.js';

export interface ConfigWatcherOptions {
  file: string;
  /** A changed file that validated: apply it. */
  onValid: (loaded: LoadedConfig, why: 'signal' | 'file') => Promise<void> | void;
  /** A changed file that did not validate: the running config stays. */
  onInvalid: (problems: ConfigProblem[], why: 'signal' | 'file') => void;
  /** Editors write files in several steps; wait this long after the last change. */
  debounceMs?: number;
  /** Listen for SIGHUP (default true; tests turn it off). */
  sighup?: boolean;
}

/**
 * Reloads the config on SIGHUP and when the file changes. The directory is
 * watched rather than the file, because editors and `mv`-style deploys replace
 * the file (new inode) and a file watch would go deaf after the first save.
 */
export function watchConfig(options: ConfigWatcherOptions): { close(): void; reloadNow(why?: 'signal' | 'file'): Promise<void> } {
  const debounceMs = options.debounceMs ?? 300;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> = Promise.resolve();

  const reloadNow = (why: 'signal' | 'file' = 'signal'): Promise<void> => {
    // Reloads run one after another, never interleaved.
    running = running.then(async () => {
      const r = loadConfigFile(options.file);
      if (r.ok) await options.onValid(r.value, why);
      else options.onInvalid(r.problems, why);
    });
    return running;
  };

  const name = basename(options.file);
  let watcher: FSWatcher | undefined;
  try {
    watcher = watch(dirname(options.file), (_event, changed) => {
      if (changed !== null && changed !== name) return;
      if (timer) clearTimeout(timer);
      timer = setTimeout(() => void reloadNow('file'), debounceMs);
    });
  } catch {
    watcher = undefined; // No inotify (e.g. some network filesystems): SIGHUP still works.
  }
  const onHup = () => void reloadNow('signal');
  if (options.sighup !== false) process.on('SIGHUP', onHup);

  return {
    reloadNow,
    close() {
      if (timer) clearTimeout(timer);
      watcher?.close();
      process.off('SIGHUP', onHup);
    },
  };
}
