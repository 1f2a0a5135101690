// Add-ons: what addons:create/attach/detach/destroy decide, and the config vars they own. The service runs
// through a ServiceRuntime (the Docker executor today); each var change is a release through the deployer (the path config:set takes).
import { randomBytes } from 'node:crypto';
import type { AddonsStore, AddonRow, BindingRow } from '../state/addons-store.ts';
import type { AppsStore } from '../state/apps-store.ts';
import type { Deployer } from '../releases/deployer.ts';
import type { Addon, AddonChange, AddonInfo } from '../wire/types.ts';
import { BerthError, badRequest, conflict, notFound } from '../shared/errors.ts';
import { checkConfigKey } from '../shared/validation.ts';
import { checkAddonName, checkKind, checkOutsideUrl, defaultAddonName, KINDS, maskedUrl, parseSize, serviceUrl, type AddonCredentials } from './kinds.ts';
import type { ServiceRuntime } from './service-runtime.ts';
import type { ExecSession } from '../runtime/types.ts';

const READY_TIMEOUT_MS = 90_000;

export interface AddonsDeps {
  store: AddonsStore;
  apps: AppsStore;
  deployer: Deployer;
  services: ServiceRuntime;
  /** The add-on went (destroy, or its app's): its backups go too unless `keepBackups`. */
  destroyed(name: string, keepBackups: boolean): Promise<void>;
  log: (line: string) => void;
}

/** Who asks: the names of apps they may see filter what is shown, and whose add-ons they may attach. */
export interface Caller { name: string; canSee(app: string): boolean }

/** A service is on its apps' networks only: a review app would get a URL it cannot reach, so no copy (--no-review). */
const notForReviewApps = (key: string): string[] => [key];

export class Addons {
  readonly #d: AddonsDeps;
  constructor(deps: AddonsDeps) { this.#d = deps; }

  /** `as`: the var to set instead of the kind's (DATABASE_URL…), e.g. when the app has one of that kind already. */
  async create(appName: string, input: { kind?: unknown; name?: unknown; size?: unknown; as?: unknown }, caller: Caller): Promise<AddonChange> {
    const kind = checkKind(input.kind);
    const app = this.#d.apps.get(appName);
    const name = input.name === undefined || input.name === null ? defaultAddonName(app.name, kind) : checkAddonName(input.name);
    const memoryMB = parseSize(input.size);
    const key = input.as === undefined || input.as === null ? KINDS[kind].defaultVar : checkConfigKey(String(input.as));
    if (this.#d.store.find(name)) throw conflict(`An add-on named "${name}" exists already: pick another with --name.`);
    this.#refuseOwned(app.id, key, app.name);
    const credentials: AddonCredentials = { user: 'berth', password: randomBytes(24).toString('hex'), database: name.replace(/-/g, '_') };
    let host: string;
    try {
      host = await this.#d.services.start({ name, kind, app: app.name, image: KINDS[kind].image, env: KINDS[kind].env(credentials), memoryMB });
    } catch (err) {
      if ((err as { statusCode?: number }).statusCode === 409) throw conflict(`An add-on named "${name}" exists already: pick another with --name.`);
      await this.#d.services.remove(name, [app.name]).catch(() => {});
      throw err;
    }
    const row = this.#d.store.create({ name, kind, appId: app.id, credentials, memoryMB, createdBy: caller.name }, { var: key, host });
    if (!row) {
      await this.#d.services.remove(name, [app.name]);
      throw conflict(`An add-on named "${name}" exists already: pick another with --name.`);
    }
    try {
      await this.#d.services.waitReady(name, READY_TIMEOUT_MS);
    } catch (err) {
      this.#d.store.remove(row.id);
      await this.#d.services.remove(name, [app.name]).catch(() => {});
      throw err;
    }
    const release = await this.#d.deployer.setConfig(app.name, { [key]: serviceUrl(kind, credentials, host) }, caller.name, notForReviewApps(key));
    return { addon: await this.#view(row, caller), var: key, release: release?.version ?? null };
  }

  /** The app's add-ons (its own and those attached to it) and its outside services. */
  async list(appName: string, caller: Caller): Promise<Addon[]> {
    const app = this.#d.apps.get(appName);
    const bindings = this.#d.store.bindingsOfApp(app.id);
    const addonIds = [...new Set(bindings.map((b) => b.addonId).filter((id) => id !== null))];
    const addons = await Promise.all(addonIds.map((id) => this.#view(this.#d.store.byId(id)!, caller)));
    return [...addons, ...bindings.filter((b) => b.addonId === null).map((b) => this.#outsideView(b, app.name))];
  }

  async info(appName: string, name: string, reveal: boolean, caller: Caller): Promise<AddonInfo> {
    const app = this.#d.apps.get(appName);
    const { addon, binding } = this.#bound(app.id, appName, name);
    const url = binding.url ?? serviceUrl(addon!.kind, addon!.credentials, binding.host!);
    const view = addon ? await this.#view(addon, caller) : this.#outsideView(binding, appName);
    return { ...view, var: binding.var, url: reveal ? url : maskedUrl(url) };
  }

  /** addons:attach: another app uses the add-on too; the service joins that app's network. */
  async attach(appName: string, input: { name?: unknown; url?: unknown; as?: unknown }, caller: Caller): Promise<AddonChange> {
    const app = this.#d.apps.get(appName);
    if (input.url !== undefined) return this.#attachOutside(app.id, app.name, input.url, input.as, caller);
    const name = checkAddonName(input.name);
    const addon = this.#d.store.find(name);
    // Attaching needs access to the add-on's app too; one the caller cannot see answers like a missing one.
    const owner = addon && this.#d.apps.byId(addon.appId);
    if (!addon || !owner || !caller.canSee(owner.name)) throw notFound(`Add-on "${name}" not found.`);
    const key = input.as === undefined ? KINDS[addon.kind].defaultVar : checkConfigKey(String(input.as));
    this.#refuseOwned(app.id, key, app.name);
    const already = this.#d.store.bindingsOfAddon(addon.id).find((b) => b.appId === app.id);
    const host = already?.host ?? await this.#d.services.connect(addon.name, app.name);
    this.#d.store.bind({ appId: app.id, var: key, addonId: addon.id, host, url: null });
    const release = await this.#d.deployer.setConfig(app.name, { [key]: serviceUrl(addon.kind, addon.credentials, host) }, caller.name, notForReviewApps(key));
    return { addon: await this.#view(addon, caller), var: key, release: release?.version ?? null };
  }

  /** addons:detach: the var goes (a release); the service leaves the app's network when no var of it is left. */
  async detach(appName: string, name: string, caller: Caller): Promise<AddonChange> {
    const app = this.#d.apps.get(appName);
    const { addon, binding } = this.#bound(app.id, appName, name);
    if (addon && addon.appId === app.id) {
      throw new BerthError(422, 'owned_addon', `${appName} created "${addon.name}": destroy it instead (addons:destroy ${appName} ${addon.name} --confirm ${addon.name}).`);
    }
    const bindings = addon ? this.#d.store.bindingsOfAddon(addon.id).filter((b) => b.appId === app.id) : [binding];
    for (const b of bindings) this.#d.store.unbind(app.id, b.var);
    if (addon) await this.#d.services.disconnect(addon.name, app.name);
    const release = await this.#d.deployer.setConfig(app.name, Object.fromEntries(bindings.map((b) => [b.var, null])), caller.name);
    const view = addon ? await this.#view(addon, caller) : this.#outsideView(binding, appName);
    return { addon: view, var: binding.var, release: release?.version ?? null };
  }

  /** addons:destroy: the service, its volume (the data) and every var it owns go. */
  /** `keepBackups`: its backups stay (under its name) instead of going with it. */
  async destroy(appName: string, name: string, confirm: unknown, caller: Caller, keepBackups = false): Promise<{ destroyed: string }> {
    const app = this.#d.apps.get(appName);
    const addon = this.#d.store.find(checkAddonName(name));
    if (!addon || !this.#d.store.bindingsOfAddon(addon.id).some((b) => b.appId === app.id)) throw notFound(`Add-on "${name}" not found on ${appName}.`);
    if (addon.appId !== app.id) throw new BerthError(422, 'not_owner', `"${name}" belongs to another app: detach it from ${appName} instead.`);
    if (confirm !== addon.name) throw badRequest('confirmation_required', `Destroying "${addon.name}" deletes its data: confirm with the add-on's name (--confirm ${addon.name}).`);
    await this.#destroy(addon, caller.name, null, keepBackups);
    return { destroyed: addon.name };
  }

  /** addons:connect: psql / redis-cli / mysql in the service's container, for an app it is attached to. */
  async openClient(appName: string, name: string, size: { cols: number; rows: number }): Promise<{ session: ExecSession; name: string }> {
    const app = this.#d.apps.get(appName);
    const { addon } = this.#bound(app.id, appName, name);
    if (!addon) throw new BerthError(422, 'outside_service', `"${name}" is an outside service: Berth has no container to connect in.`);
    return { session: await this.#d.services.openClient(addon.name, KINDS[addon.kind].client, size), name: `addon ${addon.name}` };
  }

  /** Only checks that the app has the add-on (before a websocket is upgraded). */
  findBound(appName: string, name: string): void {
    const app = this.#d.apps.get(appName);
    const { addon } = this.#bound(app.id, appName, name);
    if (!addon) throw new BerthError(422, 'outside_service', `"${name}" is an outside service: Berth has no container to connect in.`);
  }

  /** apps:destroy: the app's add-ons go with it; so do its bindings to other apps' add-ons. */
  async appDestroyed(appId: number, appName: string): Promise<void> {
    for (const addon of this.#d.store.ofApp(appId)) await this.#destroy(addon, 'berth', { id: appId, name: appName });
    for (const binding of this.#d.store.bindingsOfApp(appId)) {
      const addon = binding.addonId === null ? undefined : this.#d.store.byId(binding.addonId);
      if (addon) await this.#d.services.disconnect(addon.name, appName);
    }
    this.#d.store.forgetApp(appId);
  }

  /**
   * apps:scheduler: an app whose services stay on its old scheduler would lose them (a Docker network and a
   * cluster's pod network do not meet), so the move is refused, naming them and the way over.
   */
  refuseStrandingMove(appId: number, appName: string, to: string): void {
    const stranded = this.#d.store.bindingsOfApp(appId)
      .map((binding) => (binding.addonId === null ? undefined : this.#d.store.byId(binding.addonId)))
      .filter((addon): addon is AddonRow => addon !== undefined && addon.scheduler !== to);
    if (!stranded.length) return;
    const names = [...new Set(stranded.map((addon) => addon.name))];
    throw new BerthError(422, 'addons_attached',
      `${appName} uses ${names.join(', ')} on the ${stranded[0].scheduler} scheduler, which ${to} apps cannot reach: a service stays with its data. ` +
      `Capture a backup (berth backups:capture NAME), detach the add-on (berth addons:detach ${appName} NAME), move the app, ` +
      `then create the add-on again on ${to} (berth addons:create ${appName} KIND) and restore into it (berth backups:restore NEW --from-file DUMP).`);
  }

  /**
   * apps:rename: the app's containers now run on the network of its new name; the services it uses join that
   * network, leave the old one, and the vars follow their new address (a release).
   */
  async appRenamed(appId: number, from: string, to: string): Promise<void> {
    const changes: Record<string, string> = {};
    const hosts = new Map<number, string>();
    for (const binding of this.#d.store.bindingsOfApp(appId)) {
      const addon = binding.addonId === null ? undefined : this.#d.store.byId(binding.addonId);
      if (!addon) continue;
      let host = hosts.get(addon.id);
      if (host === undefined) {
        host = await this.#d.services.connect(addon.name, to);
        hosts.set(addon.id, host);
        await this.#d.services.disconnect(addon.name, from);
      }
      this.#d.store.moveHost(appId, binding.var, host);
      changes[binding.var] = serviceUrl(addon.kind, addon.credentials, host);
    }
    // Not awaited: the rename still holds the app's lock while its subscribers run; this release follows it.
    if (Object.keys(changes).length > 0) {
      void this.#d.deployer.setConfig(to, changes, 'berth')
        .catch((err: unknown) => this.#d.log(`add-ons of ${to}: the vars for the renamed app's network were not set: ${(err as Error).message}`));
    }
  }

  /**
   * Services whose container (or StatefulSet) is gone come back with their credentials, on their apps' networks: at
   * startup and after admin:restore. Storage is only created where missing, so a volume that is still there keeps
   * the data; on a new machine the service starts empty and its backups (`berth backups NAME`) hold the data. A
   * service that is down (its node lost) is not missing: it never moves without its data. Returns what came back.
   */
  async recoverMissing(): Promise<string[]> {
    const recovered: string[] = [];
    for (const addon of this.#d.store.all()) {
      const owner = this.#d.apps.byId(addon.appId);
      if (!owner) continue;
      try {
        if (await this.#d.services.status(addon.name) !== 'missing') continue;
        await this.#recover(addon, owner.name);
        recovered.push(addon.name);
        this.#d.log(`add-on ${addon.name}: its service was missing and is back`);
      } catch (err) {
        this.#d.log(`add-on ${addon.name}: its service is missing and could not be started again: ${(err as Error).message}`);
      }
    }
    return recovered;
  }

  async #recover(addon: AddonRow, ownerApp: string): Promise<void> {
    const spec = KINDS[addon.kind];
    const hosts = new Map<number, string>([[addon.appId, await this.#d.services.start({
      name: addon.name, kind: addon.kind, app: ownerApp, image: spec.image, env: spec.env(addon.credentials), memoryMB: addon.memoryMB,
    })]]);
    const bindings = this.#d.store.bindingsOfAddon(addon.id);
    for (const b of bindings) {
      const app = this.#d.apps.byId(b.appId);
      if (app && !hosts.has(b.appId)) hosts.set(b.appId, await this.#d.services.connect(addon.name, app.name));
    }
    await this.#d.services.waitReady(addon.name, READY_TIMEOUT_MS);
    // An address the service got anew (another IP on the app's network, a new ClusterIP): the vars follow it.
    const changes = new Map<string, Record<string, string>>();
    for (const b of bindings) {
      const host = hosts.get(b.appId);
      const app = this.#d.apps.byId(b.appId);
      if (!host || !app || host === b.host) continue;
      this.#d.store.moveHost(b.appId, b.var, host);
      changes.set(app.name, { ...changes.get(app.name), [b.var]: serviceUrl(addon.kind, addon.credentials, host) });
    }
    for (const [app, vars] of changes) await this.#d.deployer.setConfig(app, vars, 'berth', Object.keys(vars));
  }

  /** What owns the app's config var (config:set/unset of it is refused); null: nothing. */
  ownerOf(appId: number, key: string): string | null {
    const binding = this.#d.store.binding(appId, key);
    if (!binding) return null;
    const addon = binding.addonId === null ? undefined : this.#d.store.byId(binding.addonId);
    return addon ? `add-on "${addon.name}"` : 'an outside service binding (addons:detach it to remove)';
  }

  /** `destroyed`: the app being destroyed (its row is gone already; its vars go with it). */
  async #destroy(addon: AddonRow, actor: string, destroyed: { id: number; name: string } | null, keepBackups = false): Promise<void> {
    const bindings = this.#d.store.bindingsOfAddon(addon.id);
    const appNames: string[] = [];
    for (const b of bindings) {
      this.#d.store.unbind(b.appId, b.var);
      const app = b.appId === destroyed?.id ? null : this.#d.apps.byId(b.appId);
      if (b.appId === destroyed?.id) appNames.push(destroyed.name);
      if (!app) continue;
      appNames.push(app.name);
      await this.#d.deployer.setConfig(app.name, { [b.var]: null }, actor)
        .catch((err: unknown) => this.#d.log(`add-on ${addon.name}: could not unset ${b.var} on ${app.name}: ${(err as Error).message}`));
    }
    await this.#d.services.remove(addon.name, appNames);
    this.#d.store.remove(addon.id);
    await this.#d.destroyed(addon.name, keepBackups);
  }

  async #attachOutside(appId: number, appName: string, rawUrl: unknown, as: unknown, caller: Caller): Promise<AddonChange> {
    const { url, kind } = checkOutsideUrl(rawUrl);
    const key = as === undefined ? KINDS[kind].defaultVar : checkConfigKey(String(as));
    this.#refuseOwned(appId, key, appName);
    this.#d.store.bind({ appId, var: key, addonId: null, host: null, url });
    const release = await this.#d.deployer.setConfig(appName, { [key]: url }, caller.name);
    return { addon: this.#outsideView(this.#d.store.binding(appId, key)!, appName), var: key, release: release?.version ?? null };
  }

  /** An add-on bound to the app by its name, or an outside service by its var. */
  #bound(appId: number, appName: string, name: string): { addon: AddonRow | undefined; binding: BindingRow } {
    const addon = this.#d.store.find(name);
    const binding = addon
      ? this.#d.store.bindingsOfAddon(addon.id).find((b) => b.appId === appId)
      : this.#d.store.binding(appId, name);
    if (!binding || (!addon && binding.addonId !== null)) throw notFound(`Add-on "${name}" not found on ${appName}.`);
    return { addon, binding };
  }

  #refuseOwned(appId: number, key: string, appName: string): void {
    const owner = this.ownerOf(appId, key);
    if (owner) throw conflict(`${key} on ${appName} is owned by ${owner}: attach as another var with --as.`);
  }

  async #view(addon: AddonRow, caller: Caller): Promise<Addon> {
    const attachedAs = this.#d.store.bindingsOfAddon(addon.id)
      .map((b) => ({ app: this.#d.apps.byId(b.appId)?.name, as: b.var }))
      .filter((a): a is { app: string; as: string } => a.app !== undefined && caller.canSee(a.app));
    return {
      name: addon.name, kind: addon.kind, app: this.#d.apps.byId(addon.appId)?.name ?? null, status: await this.#d.services.status(addon.name),
      memoryMB: addon.memoryMB, attachedAs, createdAt: addon.createdAt,
    };
  }

  #outsideView(binding: BindingRow, appName: string): Addon {
    return {
      name: binding.var, kind: checkOutsideUrl(binding.url).kind, app: null, status: 'outside', memoryMB: null,
      attachedAs: [{ app: appName, as: binding.var }], createdAt: '',
    };
  }
}
