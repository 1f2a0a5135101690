// Which Python or Go a stack image has. Official images say it in their environment (PYTHON_VERSION,
// GOLANG_VERSION); any other image (Berth's own Debian stacks) is asked once by running its python3 or go
// for a moment, without a network. Remembered per image id, so a server asks each image once.
import type Docker from 'dockerode';
import type { AskedVersion } from './language-versions.ts';

export type StackLanguage = AskedVersion['language'];

const ENV_NAME: Record<StackLanguage, string> = { Python: 'PYTHON_VERSION', Go: 'GOLANG_VERSION' };
const PROBE: Record<StackLanguage, string[]> = {
  Python: ['python3', '-c', 'import platform; print(platform.python_version())'],
  Go: ['go', 'env', 'GOVERSION'],
};
const PROBE_TIMEOUT_MS = 20_000;

/** The version an official image declares in its environment; null when it declares none. */
export function versionFromEnv(env: string[], language: StackLanguage): string | null {
  const prefix = `${ENV_NAME[language]}=`;
  const value = env.find((e) => e.startsWith(prefix))?.slice(prefix.length).trim();
  return value ? value : null;
}

/** The version in what the probe printed ("3.11.2", "go1.19.8"); null when it printed none. */
export function versionFromProbe(output: string, language: StackLanguage): string | null {
  const match = (language === 'Go' ? /\bgo(\d+\.\d+(?:\.\d+)?)/ : /\b(\d+\.\d+\.\d+)\b/).exec(output);
  return match ? match[1]! : null;
}

export class StackVersions {
  readonly #docker: Docker;
  readonly #known = new Map<string, Promise<string | null>>();

  constructor(docker: Docker) { this.#docker = docker; }

  /** null when it cannot be told (no such image here: the build then fails naming it; no interpreter in it). */
  async of(language: StackLanguage, image: string): Promise<string | null> {
    let info: Docker.ImageInspectInfo;
    try {
      info = await this.#docker.getImage(image).inspect();
    } catch {
      return null;
    }
    const key = `${language} ${info.Id}`;
    let version = this.#known.get(key);
    if (!version) {
      version = Promise.resolve(versionFromEnv(info.Config?.Env ?? [], language) ?? this.#probe(language, info.Id));
      this.#known.set(key, version);
      // Not told (the engine was busy, say): asked again next time.
      void version.then((v) => { if (v === null) this.#known.delete(key); });
    }
    return version;
  }

  async #probe(language: StackLanguage, imageId: string): Promise<string | null> {
    let container: Docker.Container | null = null;
    try {
      container = await this.#docker.createContainer({
        Image: imageId, Cmd: PROBE[language], Entrypoint: [], Tty: true, NetworkDisabled: true,
        Labels: { 'berth.stack-probe': language },
      });
      await container.start();
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error('timed out')), PROBE_TIMEOUT_MS); });
      await Promise.race([container.wait(), timeout]).finally(() => clearTimeout(timer));
      const output = await container.logs({ stdout: true, stderr: true });
      return versionFromProbe(output.toString('utf8'), language);
    } catch {
      return null;
    } finally {
      await container?.remove({ force: true }).catch(() => {});
    }
  }
}
