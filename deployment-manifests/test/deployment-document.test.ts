import { describe, expect, it } from 'vitest';
import { deploymentDocument } from '../src/manifest/deployment-document.js';
import { parseDeploymentManifest } from '../src/manifest/parse-manifest.js';

describe('deploymentDocument', () => {
  it('writes a manifest the parser reads back with the modules, env, routes, twins and TTL given', () => {
    const doc = deploymentDocument({
      modules: {
        scorer: { image: 'reg.local/scorer:2', restartPolicy: 'on-failure', startupOrder: 1, env: { A: 'x', N: 3 }, createOptions: { HostConfig: { Binds: ['/d:/d'] } } },
        sensor: { status: 'stopped' },
      },
      routes: { up: 'FROM /messages/modules/scorer/outputs/* INTO $upstream' },
      twins: { scorer: { threshold: 0.5 } },
      timeToLiveSecs: 60,
    });
    const m = parseDeploymentManifest(doc, 'doc');
    const scorer = m.modules.find((x) => x.id === 'scorer')!;
    expect([scorer.settings.image, scorer.restartPolicy, scorer.startupOrder, scorer.status]).toEqual(['reg.local/scorer:2', 'on-failure', 1, 'running']);
    expect(scorer.env).toEqual({ A: 'x', N: '3' });
    expect(scorer.settings.createOptions).toEqual({ HostConfig: { Binds: ['/d:/d'] } });
    const sensor = m.modules.find((x) => x.id === 'sensor')!;
    expect([sensor.settings.image, sensor.status, sensor.restartPolicy]).toEqual(['example/sensor:1.0', 'stopped', 'always']);
    expect(m.hub.routes.map((r) => r.name)).toEqual(['up']);
    expect(m.hub.storeAndForward.timeToLiveSecs).toBe(60);
    expect(m.twins['scorer']).toEqual({ threshold: 0.5 });
  });
});
