import { sign } from 'node:crypto';
import type { Connection } from 'jsforce';
import { PermanentError } from '../errors.ts';
import type { PlannedRequest } from '../types.ts';
import { callError, errorCodeOf, type HttpProbe, tokenError } from './errors.ts';
import { type AuthMode, authMode, privateKey, type SalesforceSettings } from './settings.ts';

const JWT_GRANT = 'urn:ietf:params:oauth:grant-type:jwt-bearer';
const MASK = '••••••';

type Transport = Connection['_transport'];

/**
 * jsforce, loaded on the first call rather than when the configuration is
 * read: commands that never deliver (check, deliveries list…) start without it.
 */
const importJsforce = () => import('jsforce');
let jsforceModule: ReturnType<typeof importJsforce> | undefined;
function loadJsforce(): ReturnType<typeof importJsforce> {
  jsforceModule ??= importJsforce();
  return jsforceModule;
}

/**
 * Makes a jsforce transport ours: the connector's timeout on every call, no
 * retries of its own (jsforce retries GETs on 5xx/429 for ~15 s; the
 * delivery engine is the one retry policy), and the status and headers of
 * each answer kept for error mapping (jsforce's errors carry no status).
 */
function instrument(transport: Transport, timeoutMs: number): HttpProbe {
  const probe: HttpProbe = { status: undefined, headers: undefined };
  const original = transport.httpRequest.bind(transport);
  transport.httpRequest = (request, options = {}) => {
    probe.status = undefined;
    probe.headers = undefined;
    const pending = original(request, {
      ...options,
      timeout: timeoutMs,
      retry: { ...options.retry, methods: [] },
    });
    pending.then(
      (response) => {
        probe.status = response.statusCode;
        probe.headers = response.headers;
      },
      () => {},
    );
    return pending;
  };
  return probe;
}

/**
 * The connector's access token, shared by its deliveries: fetched on first
 * use, renewed once when Salesforce says INVALID_SESSION_ID (one renewal for
 * all deliveries that saw the same stale token).
 */
export class SalesforceAuth {
  readonly mode: AuthMode;
  private token: string | undefined;
  private renewing: Promise<string> | undefined;

  constructor(
    private readonly settings: SalesforceSettings,
    private readonly now: () => number,
  ) {
    this.mode = authMode(settings);
    this.token = settings.access_token;
  }

  get canRenew(): boolean {
    return this.mode !== 'access_token';
  }

  get loginUrl(): string {
    return (
      this.settings.login_url ??
      (this.mode === 'client_credentials' ? this.settings.instance_url : 'https://login.salesforce.com')
    );
  }

  get tokenUrl(): string {
    return `${this.loginUrl}/services/oauth2/token`;
  }

  /** Whether a token request comes before the first API call. */
  get needsToken(): boolean {
    return this.token === undefined;
  }

  async accessToken(): Promise<string> {
    return this.token ?? this.renew(undefined);
  }

  /** A new token, unless another delivery already replaced `stale`. */
  async renew(stale: string | undefined): Promise<string> {
    if (this.token !== undefined && this.token !== stale) return this.token;
    if (!this.canRenew)
      throw new PermanentError(
        'Salesforce no longer accepts the access_token (INVALID_SESSION_ID: Session expired or invalid) and an access token alone cannot be renewed: set a new one, or configure refresh_token, client credentials or the JWT bearer flow',
        { statusCode: 401 },
      );
    this.renewing ??= this.requestToken()
      .then((token) => {
        this.token = token;
        return token;
      })
      .finally(() => {
        this.renewing = undefined;
      });
    return this.renewing;
  }

  private async requestToken(): Promise<string> {
    const { client_id, client_secret, refresh_token } = this.settings;
    const jsforce = await loadJsforce();
    const oauth2 = new jsforce.OAuth2({
      loginUrl: this.loginUrl,
      ...(client_id ? { clientId: client_id } : {}),
      ...(client_secret && this.mode !== 'jwt_bearer' ? { clientSecret: client_secret } : {}),
    });
    const probe = instrument(oauth2._transport, this.settings.timeout);
    try {
      const response =
        this.mode === 'refresh_token'
          ? await oauth2.refreshToken(refresh_token!)
          : this.mode === 'jwt_bearer'
            ? await oauth2.requestToken({ grant_type: JWT_GRANT, assertion: this.assertion() })
            : await oauth2.requestToken({ grant_type: 'client_credentials' });
      if (!response?.access_token)
        throw new PermanentError(`${this.tokenUrl} answered without an access_token`, {
          statusCode: probe.status,
        });
      return response.access_token;
    } catch (error) {
      throw tokenError(error, {
        probe,
        tokenUrl: this.tokenUrl,
        timeoutMs: this.settings.timeout,
        now: this.now(),
      });
    }
  }

  /** An RS256 JWT for the bearer flow: iss = consumer key, sub = username, aud = the login URL, 3 minutes. */
  private assertion(): string {
    const encode = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
    const header = encode({ alg: 'RS256' });
    const claims = encode({
      iss: this.settings.client_id,
      sub: this.settings.username,
      aud: this.loginUrl,
      exp: Math.floor(this.now() / 1000) + 180,
    });
    const signature = sign(
      'RSA-SHA256',
      Buffer.from(`${header}.${claims}`),
      privateKey(this.settings.private_key!),
    );
    return `${header}.${claims}.${signature.toString('base64url')}`;
  }

  /** The token request as preview shows it, secrets masked. */
  plannedTokenRequest(): PlannedRequest {
    const body: Record<string, string> =
      this.mode === 'refresh_token'
        ? { grant_type: 'refresh_token', refresh_token: MASK, client_id: this.settings.client_id! }
        : this.mode === 'jwt_bearer'
          ? {
              grant_type: JWT_GRANT,
              assertion: `${MASK} (RS256 JWT: iss client_id, sub ${this.settings.username}, aud ${this.loginUrl})`,
              client_id: this.settings.client_id!,
            }
          : { grant_type: 'client_credentials', client_id: this.settings.client_id!, client_secret: MASK };
    if (this.mode === 'refresh_token' && this.settings.client_secret) body.client_secret = MASK;
    return {
      method: 'POST',
      url: this.tokenUrl,
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body,
      note: 'only while no access token is held yet, or once after Salesforce answers INVALID_SESSION_ID',
    };
  }
}

/**
 * One delivery's (or one batch's) line to Salesforce: a jsforce Connection
 * of its own (so the status of "the last answer" is this delivery's), calls
 * made one after another, INVALID_SESSION_ID renewed and retried once.
 */
export class SalesforceClient {
  readonly conn: Connection;
  private readonly probe: HttpProbe;

  static async open(settings: SalesforceSettings, auth: SalesforceAuth, now: () => number) {
    const jsforce = await loadJsforce();
    return new SalesforceClient(
      new jsforce.Connection({ instanceUrl: settings.instance_url, version: settings.api_version }),
      settings,
      auth,
      now,
    );
  }

  private constructor(
    conn: Connection,
    private readonly settings: SalesforceSettings,
    private readonly auth: SalesforceAuth,
    private readonly now: () => number,
  ) {
    this.conn = conn;
    this.probe = instrument(this.conn._transport, settings.timeout);
  }

  /**
   * Runs one API call; throws a DeliveryError. `what` names the call in
   * messages ("the Lead", "the look-up of existing records").
   */
  async call<T>(what: string, run: (conn: Connection) => Promise<T>): Promise<T> {
    const token = await this.auth.accessToken();
    this.conn.accessToken = token;
    try {
      return await run(this.conn);
    } catch (error) {
      if (errorCodeOf(error) !== 'INVALID_SESSION_ID') throw this.explain(error, what);
    }
    this.conn.accessToken = await this.auth.renew(token);
    try {
      return await run(this.conn);
    } catch (error) {
      if (errorCodeOf(error) === 'INVALID_SESSION_ID')
        throw new PermanentError(
          `Salesforce refused a freshly issued access token for ${what} (INVALID_SESSION_ID): check that the user is API-enabled and the connected app's policies`,
          { statusCode: 401 },
        );
      throw this.explain(error, what);
    }
  }

  /** The last answer's status, for results and errors of calls that returned. */
  get lastStatus(): number | undefined {
    return this.probe.status;
  }

  explain(error: unknown, what: string) {
    return callError(error, what, {
      probe: this.probe,
      host: new URL(this.settings.instance_url).host,
      timeoutMs: this.settings.timeout,
      now: this.now(),
    });
  }
}
