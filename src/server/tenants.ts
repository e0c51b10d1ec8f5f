/**
 * Multi-tenancy by TLS client certificate. A tenants file maps a certificate (its subject CN or its
 * SHA-256 fingerprint) to a tenant; the tenant's functions live on the server under the prefix
 * `<tenant>/`, which the server adds to every name the tenant sends and strips from every name it
 * shows it. A tenant's connections see, serve and manage only their own functions and jobs.
 *
 * ```json
 * {
 *   "tenants": {
 *     "acme":   { "cn": ["acme-app", "acme-worker"], "maxQueue": 1000, "maxJobs": 50000, "maxConnections": 200 },
 *     "globex": { "fingerprints": ["3F:1A:…"] }
 *   },
 *   "operators": { "cn": ["ops"] },
 *   "default": "public"
 * }
 * ```
 *
 * `operators` name certificates whose connections are not scoped (they see every tenant's functions
 * under their full names). `default` names the tenant of connections without a client certificate;
 * without it they are refused.
 */
import fs from 'node:fs';
import { z } from 'zod';
import { InvalidArgumentError } from '../errors.ts';

/** Separates a tenant's name from its function names on the server. */
export const TENANT_SEPARATOR = '/';

const TENANT_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
const TENANT_NAME_RULE = 'a tenant name is 1-64 letters, digits, _ . - (no /)';

const fingerprint = z
  .string()
  .transform((v, ctx) => {
    const hex = normalizeFingerprint(v);
    if (!/^[0-9A-F]{64}$/.test(hex)) {
      ctx.addIssue({ code: 'custom', message: `not a SHA-256 fingerprint: ${JSON.stringify(v)}` });
      return z.NEVER;
    }
    return hex;
  });

/** One value or a list of them. */
const listOf = <T extends z.ZodType>(item: T) => z.preprocess((v) => (typeof v === 'string' ? [v] : v), z.array(item));

const identitiesShape = {
  /** Certificate subject common names. */
  cn: listOf(z.string().min(1)).optional(),
  /** SHA-256 certificate fingerprints (hex, colons optional). */
  fingerprints: listOf(fingerprint).optional(),
};

const limit = z.number().int().min(0);

const tenantSchema = z.strictObject({
  ...identitiesShape,
  /** Jobs (queued + running) per function; a ceiling the tenant's own `maxqueue` cannot lift. 0 = none. */
  maxQueue: limit.default(0),
  /** Jobs (queued + running) over all the tenant's functions. 0 = none. */
  maxJobs: limit.default(0),
  /** Connections of the tenant at once. 0 = none. */
  maxConnections: limit.default(0),
});

export const tenantsFileSchema = z
  .strictObject({
    tenants: z.record(z.string(), tenantSchema),
    operators: z.strictObject(identitiesShape).optional(),
    default: z.string().optional(),
  })
  .superRefine((cfg, ctx) => {
    for (const name of Object.keys(cfg.tenants)) {
      if (!TENANT_NAME.test(name)) ctx.addIssue({ code: 'custom', path: ['tenants', name], message: `${TENANT_NAME_RULE}: ${JSON.stringify(name)}` });
    }
    if (cfg.default !== undefined && !(cfg.default in cfg.tenants)) {
      ctx.addIssue({ code: 'custom', path: ['default'], message: `names no tenant of the file: ${cfg.default}` });
    }
    const owners = new Map<string, string>();
    const claim = (key: string, owner: string, path: (string | number)[]) => {
      const prev = owners.get(key);
      if (prev !== undefined && prev !== owner) {
        ctx.addIssue({ code: 'custom', path, message: `${key} is already given to ${prev}` });
      }
      owners.set(key, owner);
    };
    for (const [name, t] of Object.entries(cfg.tenants)) {
      t.cn?.forEach((cn, i) => claim(`cn ${cn}`, `tenant ${name}`, ['tenants', name, 'cn', i]));
      t.fingerprints?.forEach((f, i) => claim(`fingerprint ${f}`, `tenant ${name}`, ['tenants', name, 'fingerprints', i]));
    }
    cfg.operators?.cn?.forEach((cn, i) => claim(`cn ${cn}`, 'the operators', ['operators', 'cn', i]));
    cfg.operators?.fingerprints?.forEach((f, i) => claim(`fingerprint ${f}`, 'the operators', ['operators', 'fingerprints', i]));
  });

export type TenantsConfigInput = z.input<typeof tenantsFileSchema>;
export type TenantsConfig = z.output<typeof tenantsFileSchema>;

export interface TenantLimits {
  readonly maxQueue: number;
  readonly maxJobs: number;
  readonly maxConnections: number;
}

/** What tenancy reads of a function on the server (server/function-entry.ts). */
export interface TenantFunction {
  readonly name: string;
  /** The tenant whose prefix the name carries, or null. */
  readonly owner: Tenant | null;
  /** The name without the tenant prefix. */
  readonly localName: string;
  /** Jobs queued, scheduled or running. */
  readonly total: number;
}

/** One tenant while the server runs. */
export class Tenant {
  readonly name: string;
  /** `<name>/`: added to the tenant's function names on the server. */
  readonly prefix: string;
  readonly limits: TenantLimits;
  /** Open connections of the tenant. */
  connections = 0;
  /** The tenant's functions (for its job total). */
  readonly functions = new Set<TenantFunction>();

  constructor(name: string, limits: TenantLimits) {
    this.name = name;
    this.prefix = name + TENANT_SEPARATOR;
    this.limits = limits;
  }

  /** Jobs queued, scheduled or running over all the tenant's functions. */
  get jobs(): number {
    let n = 0;
    for (const fn of this.functions) n += fn.total;
    return n;
  }
}

/** What a client certificate says about its holder (`tls.TLSSocket#getPeerCertificate()`). */
export interface PeerCertificate {
  /** Subject common name(s). */
  readonly cn: readonly string[];
  /** SHA-256 fingerprint, as Node prints it (`AB:CD:…`). */
  readonly fingerprint256: string;
}

/** Who a connection is, as far as tenancy goes. */
export type TenantIdentity =
  | { readonly kind: 'tenant'; readonly tenant: Tenant; readonly byCertificate: boolean }
  | { readonly kind: 'operator' }
  | { readonly kind: 'refused'; readonly code: 'CERTIFICATE_REQUIRED' | 'UNKNOWN_TENANT'; readonly reason: string };

/** The tenants of one server: certificate lookup, and which tenant owns a function name. */
export class TenantRegistry {
  readonly #byName = new Map<string, Tenant>();
  readonly #byCn = new Map<string, Tenant | 'operator'>();
  readonly #byFingerprint = new Map<string, Tenant | 'operator'>();
  readonly #default: Tenant | undefined;

  constructor(config: TenantsConfig) {
    for (const [name, t] of Object.entries(config.tenants)) {
      const tenant = new Tenant(name, { maxQueue: t.maxQueue, maxJobs: t.maxJobs, maxConnections: t.maxConnections });
      this.#byName.set(name, tenant);
      for (const cn of t.cn ?? []) this.#byCn.set(cn, tenant);
      for (const f of t.fingerprints ?? []) this.#byFingerprint.set(f, tenant);
    }
    for (const cn of config.operators?.cn ?? []) this.#byCn.set(cn, 'operator');
    for (const f of config.operators?.fingerprints ?? []) this.#byFingerprint.set(f, 'operator');
    this.#default = config.default !== undefined ? this.#byName.get(config.default) : undefined;
  }

  get tenants(): readonly Tenant[] {
    return [...this.#byName.values()];
  }

  get(name: string): Tenant | undefined {
    return this.#byName.get(name);
  }

  /** The tenant or operator a (verified) client certificate names; `null` = no certificate. */
  identify(cert: PeerCertificate | null): TenantIdentity {
    if (cert === null) {
      if (this.#default) return { kind: 'tenant', tenant: this.#default, byCertificate: false };
      return { kind: 'refused', code: 'CERTIFICATE_REQUIRED', reason: 'this server requires a client certificate (--ssl-certificate and --ssl-key)' };
    }
    const match = this.#byFingerprint.get(normalizeFingerprint(cert.fingerprint256)) ?? cert.cn.map((cn) => this.#byCn.get(cn)).find((t) => t !== undefined);
    if (match === 'operator') return { kind: 'operator' };
    if (match) return { kind: 'tenant', tenant: match, byCertificate: true };
    return { kind: 'refused', code: 'UNKNOWN_TENANT', reason: `no tenant for certificate CN=${cert.cn.join(',') || '(none)'}` };
  }

  /** The tenant whose prefix starts `functionName`, if any. */
  ownerOf(functionName: string): Tenant | undefined {
    const sep = functionName.indexOf(TENANT_SEPARATOR);
    return sep > 0 ? this.#byName.get(functionName.slice(0, sep)) : undefined;
  }
}

/** Read and validate a tenants file; errors name the file and the field. */
export function loadTenantsFile(file: string): TenantsConfig {
  let raw: unknown;
  try {
    raw = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (err) {
    throw new InvalidArgumentError(`tenants file ${file}: ${(err as Error).message}`, { field: 'tenants', cause: err });
  }
  return parseTenantsConfig(raw, `tenants file ${file}`);
}

export function parseTenantsConfig(raw: unknown, what = 'tenants'): TenantsConfig {
  const parsed = tenantsFileSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const at = issue.path.length > 0 ? ` at ${issue.path.join('.')}` : '';
    throw new InvalidArgumentError(`${what}${at}: ${issue.message}`, { field: ['tenants', ...issue.path].join('.') });
  }
  return parsed.data;
}

/** `ab:cd…`, `sha256:ABCD…` → `ABCD…`. */
export function normalizeFingerprint(text: string): string {
  return text.replace(/^sha256:/i, '').replace(/[:\s]/g, '').toUpperCase();
}

/** What a connection sees of function names: the scoped view of a tenant, or everything. */
export interface Scoped {
  readonly tenant: Tenant | null;
}

/** The server-side name of a function a connection names. */
export function qualify(conn: Scoped, name: string): string {
  return conn.tenant === null ? name : conn.tenant.prefix + name;
}

/** Whether a connection may see (and act on) a function. */
export function visible(conn: Scoped, fn: TenantFunction): boolean {
  return conn.tenant === null || fn.owner === conn.tenant;
}

/** The name a connection knows a function by. */
export function displayName(conn: Scoped, fn: TenantFunction): string {
  return conn.tenant === null ? fn.name : fn.localName;
}
