import { InvalidArgumentError } from '../errors.ts';

/**
 * User-Agent classification for browser, OS and crawler panels (GoAccess-like coverage).
 * Crawlers include automated clients (curl, Wget, HTTP libraries, scanners), as in GoAccess:
 * their browser and OS are both reported as `Crawler`.
 */

export type DeviceType = 'desktop' | 'mobile' | 'tablet' | 'bot' | 'unknown';

export interface UserAgentInfo {
  /** `Chrome`, `Firefox`, `Safari`, `Mobile Safari`, `Edge`, `Opera`, `Internet Explorer`, `Samsung Internet`, …, `Crawler`, `Other`, `Unknown`. */
  readonly browser: string;
  /** Major version, or `''`. */
  readonly browserVersion: string;
  /** `Windows`, `macOS`, `iOS`, `Android`, `Linux`, `ChromeOS`, …, `Crawler`, `Unknown`. */
  readonly os: string;
  /** e.g. `10`, `17.1`, `14`, or `''`. */
  readonly osVersion: string;
  readonly device: DeviceType;
  readonly crawler: boolean;
  /** The crawler's name (`Googlebot`, `curl`, …), or `''`. */
  readonly crawlerName: string;
}

/** Known crawlers and automated clients: a substring to look for (case-insensitive) and a name. */
const CRAWLERS: ReadonlyArray<readonly [string, string]> = [
  ['googlebot', 'Googlebot'],
  ['adsbot-google', 'Googlebot'],
  ['mediapartners-google', 'Googlebot'],
  ['google-inspectiontool', 'Googlebot'],
  ['googleother', 'Googlebot'],
  ['storebot-google', 'Googlebot'],
  ['feedfetcher-google', 'Googlebot'],
  ['apis-google', 'Googlebot'],
  ['bingbot', 'bingbot'],
  ['bingpreview', 'bingbot'],
  ['msnbot', 'bingbot'],
  ['yahoo! slurp', 'Yahoo! Slurp'],
  ['duckduckbot', 'DuckDuckBot'],
  ['baiduspider', 'Baiduspider'],
  ['yandex', 'YandexBot'],
  ['sogou', 'Sogou'],
  ['applebot', 'Applebot'],
  ['facebookexternalhit', 'Facebook'],
  ['facebookcatalog', 'Facebook'],
  ['meta-externalagent', 'Facebook'],
  ['twitterbot', 'Twitterbot'],
  ['linkedinbot', 'LinkedInBot'],
  ['slackbot', 'Slackbot'],
  ['discordbot', 'Discordbot'],
  ['telegrambot', 'TelegramBot'],
  ['whatsapp', 'WhatsApp'],
  ['ahrefsbot', 'AhrefsBot'],
  ['semrushbot', 'SemrushBot'],
  ['mj12bot', 'MJ12bot'],
  ['dotbot', 'DotBot'],
  ['petalbot', 'PetalBot'],
  ['bytespider', 'Bytespider'],
  ['gptbot', 'GPTBot'],
  ['chatgpt-user', 'ChatGPT-User'],
  ['oai-searchbot', 'OAI-SearchBot'],
  ['claudebot', 'ClaudeBot'],
  ['claude-web', 'ClaudeBot'],
  ['anthropic-ai', 'ClaudeBot'],
  ['ccbot', 'CCBot'],
  ['perplexitybot', 'PerplexityBot'],
  ['amazonbot', 'Amazonbot'],
  ['seznambot', 'SeznamBot'],
  ['qwantify', 'Qwantify'],
  ['ia_archiver', 'Alexa'],
  ['archive.org_bot', 'Internet Archive'],
  ['uptimerobot', 'UptimeRobot'],
  ['pingdom', 'Pingdom'],
  ['statuscake', 'StatusCake'],
  ['site24x7', 'Site24x7'],
  ['dataforseobot', 'DataForSeoBot'],
  ['blexbot', 'BLEXBot'],
  ['serpstatbot', 'serpstatbot'],
  ['megaindex', 'MegaIndex'],
  ['coccocbot', 'coccocbot'],
  ['mail.ru_bot', 'Mail.RU Bot'],
  ['headlesschrome', 'HeadlessChrome'],
  ['phantomjs', 'PhantomJS'],
  ['chrome-lighthouse', 'Lighthouse'],
  ['curl/', 'curl'],
  ['wget/', 'Wget'],
  ['python-requests', 'python-requests'],
  ['python-urllib', 'Python-urllib'],
  ['python-httpx', 'python-httpx'],
  ['aiohttp', 'aiohttp'],
  ['go-http-client', 'Go-http-client'],
  ['java/', 'Java'],
  ['apache-httpclient', 'Apache-HttpClient'],
  ['okhttp', 'okhttp'],
  ['libwww-perl', 'libwww-perl'],
  ['guzzlehttp', 'Guzzle'],
  ['axios/', 'axios'],
  ['node-fetch', 'node-fetch'],
  ['undici', 'undici'],
  ['scrapy', 'Scrapy'],
  ['httrack', 'HTTrack'],
  ['zgrab', 'zgrab'],
  ['masscan', 'masscan'],
  ['nmap', 'Nmap'],
  ['nikto', 'Nikto'],
  ['sqlmap', 'sqlmap'],
  ['wpscan', 'WPScan'],
  ['censysinspect', 'Censys'],
  ['expanse', 'Expanse'],
  ['netcraftsurveyagent', 'Netcraft'],
  ['internetmeasurement', 'InternetMeasurement'],
];

/** Words that mark an automated client not in the list above. */
const GENERIC_BOT = /bot\b|bot\/|crawl|spider|scan(?:ner)?\b|monitor|fetcher|archiver|preview|probe|checker|validator|feed|http[-_ ]?client|library/i;

const UNKNOWN: UserAgentInfo = Object.freeze({
  browser: 'Unknown',
  browserVersion: '',
  os: 'Unknown',
  osVersion: '',
  device: 'unknown',
  crawler: false,
  crawlerName: '',
});

function versionAfter(ua: string, token: string): string {
  const i = ua.indexOf(token);
  if (i < 0) return '';
  let j = i + token.length;
  let out = '';
  while (j < ua.length) {
    const c = ua.charCodeAt(j);
    if (c < 48 || c > 57) break;
    out += ua[j];
    j++;
  }
  return out;
}

function crawlerOf(ua: string): string {
  const lower = ua.toLowerCase();
  for (const [needle, name] of CRAWLERS) if (lower.includes(needle)) return name;
  if (!GENERIC_BOT.test(ua)) return '';
  const compatible = /compatible;\s*([^;/)\s]+)/i.exec(ua);
  if (compatible && !/^MSIE$/i.test(compatible[1]!)) return compatible[1]!;
  const first = /^([A-Za-z][\w.-]*)/.exec(ua);
  return first ? first[1]! : 'Other';
}

function browserOf(ua: string): [string, string] {
  const pick = (name: string, ...tokens: string[]): [string, string] => {
    for (const t of tokens) {
      const v = versionAfter(ua, t);
      if (v !== '') return [name, v];
    }
    return [name, ''];
  };
  if (ua.includes('Edg/') || ua.includes('EdgA/') || ua.includes('EdgiOS/') || ua.includes('Edge/')) return pick('Edge', 'Edg/', 'EdgA/', 'EdgiOS/', 'Edge/');
  if (ua.includes('OPR/') || ua.includes('OPiOS/') || ua.includes('Opera')) return pick('Opera', 'OPR/', 'OPiOS/', 'Version/', 'Opera/');
  if (ua.includes('SamsungBrowser/')) return pick('Samsung Internet', 'SamsungBrowser/');
  if (ua.includes('YaBrowser/')) return pick('Yandex Browser', 'YaBrowser/');
  if (ua.includes('UCBrowser/')) return pick('UC Browser', 'UCBrowser/');
  if (ua.includes('Vivaldi/')) return pick('Vivaldi', 'Vivaldi/');
  if (ua.includes('FBAN/') || ua.includes('FBAV/')) return pick('Facebook App', 'FBAV/');
  if (ua.includes('Instagram ')) return pick('Instagram', 'Instagram ');
  if (ua.includes('MSIE ') || ua.includes('Trident/')) {
    const v = versionAfter(ua, 'MSIE ');
    return ['Internet Explorer', v !== '' ? v : ua.includes('Trident/7') ? '11' : ''];
  }
  if (ua.includes('Firefox/') || ua.includes('FxiOS/')) return pick('Firefox', 'Firefox/', 'FxiOS/');
  if (ua.includes('CriOS/')) return pick('Chrome', 'CriOS/');
  if (ua.includes('Chrome/') || ua.includes('Chromium/')) {
    if (ua.includes('; wv)')) return pick('Android WebView', 'Chrome/');
    return pick('Chrome', 'Chrome/', 'Chromium/');
  }
  if (ua.includes('Safari/') && ua.includes('Android')) return pick('Android Browser', 'Version/');
  if (ua.includes('Safari/') || ua.includes('AppleWebKit/')) {
    const mobile = ua.includes('iPhone') || ua.includes('iPad') || ua.includes('iPod');
    return pick(mobile ? 'Mobile Safari' : 'Safari', 'Version/');
  }
  return ['Other', ''];
}

const WINDOWS_VERSIONS: Readonly<Record<string, string>> = {
  '10.0': '10',
  '6.3': '8.1',
  '6.2': '8',
  '6.1': '7',
  '6.0': 'Vista',
  '5.2': 'XP',
  '5.1': 'XP',
  '5.0': '2000',
};

function osOf(ua: string): [string, string] {
  if (ua.includes('Windows Phone')) return ['Windows Phone', versionAfter(ua, 'Windows Phone ')];
  const nt = /Windows NT (\d+\.\d+)/.exec(ua);
  if (nt) return ['Windows', WINDOWS_VERSIONS[nt[1]!] ?? nt[1]!];
  if (ua.includes('Windows')) return ['Windows', ''];
  if (ua.includes('iPhone') || ua.includes('iPad') || ua.includes('iPod')) {
    const m = /OS (\d+)[_.](\d+)/.exec(ua);
    return ['iOS', m ? `${m[1]}.${m[2]}` : ''];
  }
  if (ua.includes('CrOS')) return ['ChromeOS', ''];
  if (ua.includes('Android')) {
    const m = /Android (\d+(?:\.\d+)?)/.exec(ua);
    return ['Android', m ? m[1]! : ''];
  }
  if (ua.includes('Mac OS X') || ua.includes('Macintosh')) {
    const m = /Mac OS X (\d+)[_.](\d+)/.exec(ua);
    return ['macOS', m ? `${m[1]}.${m[2]}` : ''];
  }
  if (ua.includes('Linux') || ua.includes('X11')) return ['Linux', ''];
  if (ua.includes('FreeBSD') || ua.includes('OpenBSD') || ua.includes('NetBSD')) return ['BSD', ''];
  return ['Unknown', ''];
}

function deviceOf(ua: string, os: string): DeviceType {
  if (ua.includes('iPad') || ua.includes('Tablet') || (os === 'Android' && !ua.includes('Mobile'))) return 'tablet';
  if (ua.includes('Mobile') || ua.includes('iPhone') || ua.includes('iPod') || os === 'Windows Phone') return 'mobile';
  if (os === 'Windows' || os === 'macOS' || os === 'Linux' || os === 'ChromeOS' || os === 'BSD') return 'desktop';
  return 'unknown';
}

/** Classifies one User-Agent string (no cache; see UserAgentClassifier). */
export function parseUserAgent(ua: string): UserAgentInfo {
  const s = ua.trim();
  if (s === '' || s === '-') return UNKNOWN;
  const crawlerName = crawlerOf(s);
  if (crawlerName !== '') {
    return Object.freeze({ browser: 'Crawler', browserVersion: '', os: 'Crawler', osVersion: '', device: 'bot', crawler: true, crawlerName });
  }
  const [browser, browserVersion] = browserOf(s);
  const [os, osVersion] = osOf(s);
  return Object.freeze({ browser, browserVersion, os, osVersion, device: deviceOf(s, os), crawler: false, crawlerName: '' });
}

/**
 * Classifies User-Agents, memoised per distinct string. Logs have few distinct agents (hundreds
 * to thousands) against millions of lines; the cache is bounded and drops its oldest entries.
 */
export class UserAgentClassifier {
  readonly maxEntries: number;
  readonly #cache = new Map<string, UserAgentInfo>();

  constructor(options: { maxEntries?: number } = {}) {
    const max = options.maxEntries ?? 10_000;
    if (!Number.isInteger(max) || max < 1) throw new InvalidArgumentError('maxEntries must be a positive integer', { field: 'maxEntries' });
    this.maxEntries = max;
  }

  get size(): number {
    return this.#cache.size;
  }

  classify(ua: string): UserAgentInfo {
    const hit = this.#cache.get(ua);
    if (hit !== undefined) return hit;
    const info = parseUserAgent(ua);
    if (this.#cache.size >= this.maxEntries) {
      // Drop the oldest eighth at once, so a stream of unique agents does not evict on every call.
      let drop = Math.max(1, this.maxEntries >> 3);
      for (const key of this.#cache.keys()) {
        this.#cache.delete(key);
        if (--drop === 0) break;
      }
    }
    this.#cache.set(ua, info);
    return info;
  }
}

const shared = new UserAgentClassifier();

/** Classifies a User-Agent through a process-wide memo (bounded to 10,000 agents). */
export function classifyUserAgent(ua: string): UserAgentInfo {
  return shared.classify(ua);
}
