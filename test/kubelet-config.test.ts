// The kubelet role's files (installer/kubelet/config.ts): every input that reaches a node file or a shell
// command is validated, and the files say what the node is told.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { nodeFiles, validateKubeletOptions, type KubeletNodeOptions } from '../installer/kubelet/config.ts';

const pem = (kind: string) => `-----BEGIN ${kind}-----\nQUJD\n-----END ${kind}-----\n`;
const base: KubeletNodeOptions = {
  hyperkubeBinary: '/x/kube-hyperkube', pauseImage: '/x/pause.tar', pauseImageRef: 'k8s.gcr.io/pause:3.6',
  apiServer: 'https://172.18.0.1:41234', apiServerName: 'kubernetes',
  credentials: { ca: pem('CERTIFICATE'), nodeCert: pem('CERTIFICATE'), nodeKey: pem('PRIVATE KEY'), proxyCert: pem('CERTIFICATE'), proxyKey: pem('PRIVATE KEY') },
  nodeName: 'node-a', nodeIp: '172.18.0.2', podCidr: '10.250.1.0/24', clusterCidr: '10.250.0.0/16',
  registryMirrors: { '127.0.0.1:5000': 'http://172.18.0.1:40000' }, labels: { 'berth.test/k8s-nodes': 'run-1' },
  taints: ['berth.test/isolated=true:NoSchedule'],
};

describe('kubelet node files', () => {
  it('rejects inputs that could change a file or a command on the node', () => {
    const bad: Partial<KubeletNodeOptions>[] = [
      { nodeName: 'Node_A' }, { nodeName: 'a;rm -rf /' }, { nodeIp: '10.0.0.1; id' }, { nodeIp: '::1' },
      { apiServer: 'http://1.2.3.4:6443' }, { apiServer: 'https://x:1/?a=b' }, { apiServerName: 'a b' },
      { podCidr: '10.250.1.0' }, { podCidr: '10.250.1.0/24 ! -d 0/0' }, { clusterCidr: '10.250.0.0/99' },
      { pauseImageRef: 'pause:3.6"; id' }, { registryMirrors: { 'r"': 'http://a:1' } }, { registryMirrors: { 'r:1': 'http://a:1/path' } },
      { labels: { 'a b': 'c' } }, { labels: { a: 'x,y=z' } }, { taints: ['k=v:Sometimes'] }, { taints: ['k=v,x:NoSchedule'] },
      { credentials: { ...base.credentials, nodeKey: `${pem('PRIVATE KEY')}\nextra: yes` } },
    ];
    for (const change of bad) assert.throws(() => validateKubeletOptions({ ...base, ...change }), Error, JSON.stringify(change));
    assert.doesNotThrow(() => validateKubeletOptions(base));
  });

  it('tells the node its name, address, pods, taint, API server and registry mirror', () => {
    const files = new Map(nodeFiles(base).map((f) => [f.path, f]));
    const kubelet = files.get('/etc/berth-kubelet/kubelet.yaml')!.content;
    assert.match(kubelet, /^address: 172\.18\.0\.2$/m);
    assert.match(kubelet, /^podCIDR: 10\.250\.1\.0\/24$/m);
    assert.match(kubelet, /\{key: "berth\.test\/isolated", value: "true", effect: NoSchedule\}/);
    const kubeconfig = files.get('/etc/berth-kubelet/kubelet.kubeconfig')!;
    assert.equal(kubeconfig.mode, '600');
    assert.match(kubeconfig.content, /server: "https:\/\/172\.18\.0\.1:41234"/);
    assert.match(kubeconfig.content, /tls-server-name: "kubernetes"/);
    assert.equal(files.get('/etc/berth-kubelet/node.key')!.mode, '600');
    assert.match(files.get('/etc/berth-kubelet/certs.d/127.0.0.1:5000/hosts.toml')!.content, /\[host\."http:\/\/172\.18\.0\.1:40000"\]/);
    assert.match(files.get('/etc/berth-kubelet/kube-proxy.yaml')!.content, /^clusterCIDR: 10\.250\.0\.0\/16$/m);
    assert.match(files.get('/usr/local/sbin/berth-kubelet')!.content, /'--node-labels=berth\.test\/k8s-nodes=run-1'/);
  });
});
