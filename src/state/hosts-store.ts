// The machines hosts:add joined to the cluster (role k3s-server, k3s-agent or kubelet), and Docker hosts an older Berth
// registered (role docker: retired, kept until hosts:remove cleans them up).
import { asc, eq } from 'drizzle-orm';
import { hosts } from './schema.ts';
import { now, type Db } from './db.ts';

export type HostRow = typeof hosts.$inferSelect;
export type HostRole = 'docker' | 'k3s-server' | 'k3s-agent' | 'kubelet';

export interface NewHost { name: string; address: string; sshUser: string; sshPort: number; role: HostRole }

export class HostsStore {
  private readonly db: Db;
  constructor(db: Db) { this.db = db; }

  list(): HostRow[] {
    return this.db.select().from(hosts).orderBy(asc(hosts.name)).all();
  }

  find(name: string): HostRow | undefined {
    return this.db.select().from(hosts).where(eq(hosts.name, name)).get();
  }

  findByAddress(address: string): HostRow | undefined {
    return this.db.select().from(hosts).where(eq(hosts.address, address)).get();
  }

  /** Registers the host, or updates how it is reached (a re-run of hosts:add). */
  upsert(host: NewHost & { memoryMB: number | null; cpus: number | null }): HostRow {
    const at = now();
    return this.db.insert(hosts)
      .values({ ...host, status: 'up', lastHeartbeatAt: at, createdAt: at })
      .onConflictDoUpdate({
        target: hosts.name,
        set: { address: host.address, sshUser: host.sshUser, sshPort: host.sshPort, role: host.role, memoryMB: host.memoryMB, cpus: host.cpus },
      })
      .returning().get();
  }

  remove(name: string): boolean {
    return this.db.delete(hosts).where(eq(hosts.name, name)).run().changes > 0;
  }
}
