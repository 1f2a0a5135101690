// `berth admin:check`: what a backup or an admin should know is wrong before trusting the installation: the
// database's own integrity check, live releases whose image is gone, containers of this installation that no
// app owns, and what each app takes on disk.
import fs from 'node:fs';
import path from 'node:path';
import type Database from 'better-sqlite3';
import type Docker from 'dockerode';
import type { RegistryApi } from '../registry/api.ts';
import { splitReference } from '../registry/index.ts';
import { LABEL, managedLabelFilter } from '../runtime/docker/labels.ts';
import { diskUse } from './data-files.ts';
import type { AppDiskUse, CheckReport, MissingImage, OrphanContainer } from '../wire/types.ts';

export interface CheckSources {
  sqlite: Database.Database;
  dataDir: string;
  docker: Docker;
  /** This installation's id: its containers carry it (berth.owner). */
  owner: string;
  registry: RegistryApi;
  registryAddress: string;
}

interface LiveRelease { app: string; appId: number; version: number; imageRef: string | null }

export async function checkInstallation(src: CheckSources): Promise<CheckReport> {
  const messages = (src.sqlite.pragma('integrity_check') as Array<{ integrity_check: string }>).map((row) => row.integrity_check);
  const database = { ok: messages.join() === 'ok', messages };
  const live = src.sqlite.prepare(`SELECT a.name AS app, a.id AS appId, r.version AS version, r.image_ref AS imageRef
    FROM apps a JOIN releases r ON r.app_id = a.id AND r.version = a.current_release ORDER BY a.name`).all() as LiveRelease[];
  const apps = src.sqlite.prepare('SELECT id, name FROM apps ORDER BY name').all() as Array<{ id: number; name: string }>;
  const missingImages: MissingImage[] = [];
  for (const release of live) {
    const problem = await imageProblem(src, release.imageRef);
    if (problem) missingImages.push({ app: release.app, version: release.version, imageRef: release.imageRef ?? '', problem });
  }
  const orphanContainers = await orphans(src, new Set(apps.map((app) => app.name)));
  const buildsOf = src.sqlite.prepare('SELECT id FROM builds WHERE app_id = ?');
  const disk = apps.map((app): AppDiskUse => {
    const repoBytes = diskUse(path.join(src.dataDir, 'repos', `${app.name}.git`));
    const logBytes = diskUse(path.join(src.dataDir, 'logs', String(app.id)));
    const buildLogBytes = (buildsOf.all(app.id) as Array<{ id: number }>)
      .reduce((sum, build) => sum + fileSize(path.join(src.dataDir, 'builds', `${build.id}.log`)), 0);
    return { app: app.name, repoBytes, logBytes, buildLogBytes, totalBytes: repoBytes + logBytes + buildLogBytes };
  });
  return {
    ok: database.ok && missingImages.length === 0 && orphanContainers.length === 0,
    database, missingImages, orphanContainers, disk, checkedAt: new Date().toISOString(),
  };
}

function fileSize(file: string): number {
  try { return fs.statSync(file).size; } catch { return 0; }
}

/** Why a live release's image could not be started again; null when it can. */
async function imageProblem(src: CheckSources, imageRef: string | null): Promise<string | null> {
  if (!imageRef) return 'the release names no image';
  let reference: { repository: string; tag: string };
  try { reference = splitReference(imageRef); } catch { reference = { repository: '', tag: '' }; }
  const prefix = `${src.registryAddress}/`;
  if (reference.repository.startsWith(prefix)) {
    // What a restart on another host, or a restore, pulls: the registry's copy.
    const digest = await src.registry.manifestDigest(reference.repository.slice(prefix.length), reference.tag).catch((err: Error) => err);
    if (digest instanceof Error) return `the registry could not be asked: ${digest.message}`;
    return digest ? null : 'not in the registry';
  }
  try {
    await src.docker.getImage(imageRef).inspect();
    return null;
  } catch {
    return 'not on the Docker engine (and not from Berth\'s registry)';
  }
}

/** This installation's containers whose app label names no app. */
async function orphans(src: CheckSources, apps: Set<string>): Promise<OrphanContainer[]> {
  const filters = { label: managedLabelFilter(src.owner) };
  const containers = await src.docker.listContainers({ all: true, filters });
  return containers
    .filter((container) => !apps.has(container.Labels?.[LABEL.app] ?? ''))
    .map((container) => ({
      id: container.Id.slice(0, 12), name: (container.Names?.[0] ?? '').replace(/^\//, ''),
      app: container.Labels?.[LABEL.app] ?? '', state: container.State,
    }));
}
