/** Library code logs only through this interface; the default logger drops everything. */
export interface Logger {
  error(message: string): void;
  warn(message: string): void;
  info(message: string): void;
  debug(message: string): void;
}

export const LOG_LEVELS = ['FATAL', 'ERROR', 'WARNING', 'NOTICE', 'INFO', 'DEBUG'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export const silentLogger: Logger = Object.freeze({
  error() {},
  warn() {},
  info() {},
  debug() {},
});

/** A logger that writes `time LEVEL message` lines through `write`, up to `level`. */
export function lineLogger(write: (line: string) => void, level: LogLevel = 'WARNING'): Logger {
  const max = LOG_LEVELS.indexOf(level);
  const at = (lvl: LogLevel) => (message: string) => {
    if (LOG_LEVELS.indexOf(lvl) <= max) write(`${new Date().toISOString()} ${lvl} ${message}\n`);
  };
  return { error: at('ERROR'), warn: at('WARNING'), info: at('INFO'), debug: at('DEBUG') };
}
