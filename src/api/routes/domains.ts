// /apps/:app/domains: the default APP.<domain> plus custom hostnames, each applied to the router at once.
// A name is claimed by one app only, wildcards included: `*.example.com` and `a.example.com` of two apps
// would split one site's traffic between teams. Wildcards may still cover other apps' default names
// (admins only): the router puts exact names first, so those keep reaching their own apps.
import { Hono } from 'hono';
import type { ApiEnv } from '../auth.ts';
import type { Services } from '../services.ts';
import { jsonBody } from '../errors.ts';
import { checkHostname, checkHostnameClaim, checkHostnameNotReserved, hostnameMatches } from '../../shared/validation.ts';
import { BerthError, conflict, notFound } from '../../shared/errors.ts';
import type { User } from '../../state/auth-store.ts';
import type { Domain } from '../../wire/types.ts';
import { httpsRoutes } from './https.ts';

/** Only what these routes use of the server's services. */
type RouteServices = Pick<Services, 'access' | 'apps' | 'deployer' | 'view' | 'https'>;

export function domainsRoutes(s: RouteServices): Hono<ApiEnv> {
  const api = new Hono<ApiEnv>();

  api.get('/:app/domains', async (c) => {
    const app = s.apps.get(c.req.param('app'));
    const names = s.deployer.hostnames(app);
    const certificates = s.https ? await s.https.certificateStatus(names) : [];
    return c.json<Domain[]>(names.map((hostname, i) => ({
      hostname, kind: i === 0 ? 'default' : 'custom', ...(certificates[i] ? { certificate: certificates[i] } : {}),
    })));
  });

  api.post('/:app/domains', async (c) => {
    const app = s.apps.get(c.req.param('app'));
    const user = c.get('user');
    const hostname = checkHostname((await jsonBody(c)).hostname);
    checkHostnameClaim(hostname, user.role, s.view.domain);
    checkHostnameNotReserved(hostname, s.view.apiHostName);
    // The app's own names may overlap (a.example.com beside its *.example.com); only another app's may not.
    const claims = s.apps.overlappingDomains(hostname).filter((d) => d.appId !== app.id || d.hostname === hostname);
    // Default names conflict only when equal: a wildcard over them loses to them in the router.
    const defaultOwner = s.apps.list().find((a) => `${a.name}.${s.view.domain}` === hostname);
    if (defaultOwner) claims.push({ appId: defaultOwner.id, hostname });
    if (claims.length > 0) throw hostnameClaimed(s, user, hostname, claims[0]!, app.id);
    s.apps.addDomain(app.id, hostname);
    try {
      await s.deployer.converge(app.name);
    } catch (err) {
      // The router did not take it: a name stored but not routed would fail every later change of the app.
      s.apps.removeDomain(app.id, hostname);
      throw err;
    }
    return c.json({ hostname, kind: 'custom' }, 201);
  });

  api.delete('/:app/domains/:hostname', async (c) => {
    const app = s.apps.get(c.req.param('app'));
    const hostname = normalizedOrAsGiven(c.req.param('hostname'));
    // A loaded certificate is served for every name in it: the name must not be left to another team with it.
    if (s.https?.settings.certificate(app.name)?.names.includes(hostname)) {
      throw conflict(`The app's own certificate names ${hostname}: remove it first (certs:remove ${app.name}), or add one without that name.`);
    }
    if (!s.apps.removeDomain(app.id, hostname)) throw notFound(`The app "${app.name}" has no custom domain ${hostname}.`);
    await s.deployer.converge(app.name);
    return c.json({ deleted: hostname });
  });
  // The names' HTTPS redirect lives beside them (and apps.ts, shared by many, stays as it is).
  api.route('/', httpsRoutes(s));
  return api;
}

/** For `apps:create`: a new app's default name must not be one a custom domain already routes. */
export function checkDefaultNameFree(s: Pick<Services, 'apps' | 'access' | 'view'>, user: User, appName: string): void {
  const hostname = `${appName}.${s.view.domain}`;
  const claim = s.apps.overlappingDomains(hostname).find((d) => hostnameMatches(d.hostname, hostname));
  if (claim) throw hostnameClaimed(s, user, hostname, claim, null);
}

/** 409 that names the app holding the name only to a user who may see that app; others learn only that it is taken. */
function hostnameClaimed(s: Pick<Services, 'apps' | 'access'>, user: User, hostname: string, claim: { appId: number; hostname: string }, appId: number | null): BerthError {
  const which = claim.hostname === hostname ? `The hostname ${hostname} is` : `${hostname} overlaps ${claim.hostname}, which is`;
  if (claim.appId === appId) return conflict(`${which} already a domain of this app.`);
  const owner = s.apps.list().find((a) => a.id === claim.appId);
  if (owner && s.access.canSee(user, owner.name)) return conflict(`${which} already claimed by the app "${owner.name}".`);
  return conflict(`The hostname ${hostname} is already claimed.`);
}

/** Removal takes the name as listed; a spelling checkHostname would normalise (case, unicode) finds it too. */
function normalizedOrAsGiven(raw: string): string {
  try {
    return checkHostname(raw);
  } catch {
    return raw.toLowerCase();
  }
}
