// deploy/ (docs/sharding.md): the Kubernetes manifests validate offline against the Kubernetes OpenAPI schemas
// (kubernetes-validate from PyPI bundles them), and agree with each other, with the CLI and with the Dockerfile.

import { spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'

import { REPO_ROOT } from './helpers/cli-run'

const K8S_DIR = path.join(REPO_ROOT, 'deploy', 'k8s')
const MANIFESTS = readdirSync(K8S_DIR).filter((name) => name.endsWith('.yaml')).sort()
/** Oldest supported (backoffLimitPerIndex on by default), the release where it went GA, the newest bundled. */
const KUBERNETES_VERSIONS = ['1.29.0', '1.33.0', '1.37.0']
/** Where .ci/run installs it (docs/sharding.md). */
const DEFAULT_VENV = path.join(os.homedir(), '.cache', 'kokoro-pool', 'kubernetes-validate')

function findValidator(): string {
  const candidates = [
    process.env.KUBERNETES_VALIDATE,
    path.join(DEFAULT_VENV, 'bin', 'kubernetes-validate'),
    ...(process.env.PATH ?? '').split(path.delimiter).map((dir) => path.join(dir, 'kubernetes-validate')),
  ]
  const found = candidates.find((candidate) => candidate !== undefined && candidate !== '' && existsSync(candidate))
  if (found === undefined) {
    throw new Error(
      `kubernetes-validate not found (checked $KUBERNETES_VALIDATE, ${DEFAULT_VENV}, $PATH). Install it once:\n` +
        `  python3 -m venv ${DEFAULT_VENV} && ${DEFAULT_VENV}/bin/pip install kubernetes-validate==1.37.0`,
    )
  }
  return found
}

const validator = findValidator()
/** The validator's own Python (its script's #! line), which has PyYAML: it reads the manifests for the checks below. */
const python = readFileSync(validator, 'utf8').split('\n')[0].replace(/^#!\s*/, '')

function validate(files: string[], version: string): { code: number | null; output: string } {
  const result = spawnSync(validator, ['--strict', '--kubernetes-version', version, ...files], {
    encoding: 'utf8',
    cwd: K8S_DIR,
  })
  return { code: result.status, output: `${result.stdout}${result.stderr}` }
}

type Manifest = Record<string, any>

function load(name: string): Manifest {
  const result = spawnSync(
    python,
    ['-c', 'import json, sys, yaml; print(json.dumps(yaml.safe_load(open(sys.argv[1]))))', path.join(K8S_DIR, name)],
    { encoding: 'utf8' },
  )
  if (result.status !== 0) throw new Error(`cannot read ${name}: ${result.stderr}`)
  return JSON.parse(result.stdout) as Manifest
}

describe('the Kubernetes manifests in deploy/k8s', () => {
  it.each(KUBERNETES_VERSIONS)('validate strictly against the Kubernetes %s OpenAPI schemas, offline', (version) => {
    expect(MANIFESTS).toEqual(['final-pass-job.yaml', 'shards-job.yaml', 'volume.yaml'])
    const { code, output } = validate(MANIFESTS, version)
    expect(output).not.toMatch(/ERROR|WARN/)
    for (const name of MANIFESTS) expect(output).toContain(`${name} passed`)
    expect(code).toBe(0)
  })

  it('are really checked: a misspelt field or a field too new for the version fails', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'kokoro-pool-k8s-'))
    try {
      const bad = path.join(dir, 'bad.yaml')
      writeFileSync(
        bad,
        readFileSync(path.join(K8S_DIR, 'shards-job.yaml'), 'utf8').replace(/^ {2}backoffLimitPerIndex:/m, '  backoffLimitPerIndx:'),
      )
      const misspelt = validate([bad], '1.33.0')
      expect(misspelt.output).toContain("Additional properties are not allowed ('backoffLimitPerIndx' was unexpected)")
      expect(misspelt.code).not.toBe(0)
      // 1.27 predates per-index retries (its schema also wants onPodConditions in every podFailurePolicy rule).
      const old = validate([path.join(K8S_DIR, 'shards-job.yaml')], '1.27.0')
      expect(old.output).toContain('did not validate')
      expect(old.code).not.toBe(0)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  const job = load('shards-job.yaml')
  const finalPass = load('final-pass-job.yaml')
  const claim = load('volume.yaml')
  const pod = job.spec.template.spec
  const container = pod.containers[0]
  const arg = (args: string[], name: string): string | undefined => {
    const at = args.indexOf(name)
    return at < 0 ? undefined : args[at + 1]
  }

  it('run one shard per index: JOB_COMPLETIONS repeats spec.completions, failed indexes retry on their own', () => {
    expect(job.spec.completionMode).toBe('Indexed')
    expect(container.env).toContainEqual({ name: 'JOB_COMPLETIONS', value: String(job.spec.completions) })
    expect(container.args).not.toContain('--shard')
    expect(container.args).not.toContain('--update-json')
    expect(job.spec.backoffLimitPerIndex).toBeGreaterThanOrEqual(1)
    expect(pod.restartPolicy).toBe('Never')
    // Exit 2 (invalid options or course data) fails the index at once; the rule names the real container.
    const failIndex = job.spec.podFailurePolicy.rules.find((rule: Manifest) => rule.action === 'FailIndex')
    expect(failIndex.onExitCodes).toEqual({ containerName: container.name, operator: 'In', values: [2] })
  })

  it('request the CPUs the pool uses: slots x threads, with limits = requests so the pool sees that many', () => {
    const { requests, limits } = container.resources
    expect(limits.cpu).toBe(requests.cpu)
    const cpus = Number(requests.cpu)
    expect(Number.isInteger(cpus)).toBe(true)
    // The automatic layout (README: one slot per core, at most 8 and at most --concurrency, cores / slots threads)
    // gives cpus slots x 1 thread when --concurrency >= cpus <= 8: every requested CPU runs an inference.
    expect(cpus).toBeLessThanOrEqual(8)
    expect(Number(arg(container.args, '--concurrency'))).toBeGreaterThanOrEqual(cpus)
  })

  it('share one ReadWriteMany volume for the outputs and read the course from a ConfigMap', () => {
    expect(claim.kind).toBe('PersistentVolumeClaim')
    expect(claim.spec.accessModes).toEqual(['ReadWriteMany'])
    const mountOf = (spec: Manifest, name: string): Manifest =>
      spec.containers[0].volumeMounts.find((mount: Manifest) => mount.name === name)
    const volumeOf = (spec: Manifest, name: string): Manifest => spec.volumes.find((volume: Manifest) => volume.name === name)
    for (const spec of [pod, finalPass.spec.template.spec]) {
      expect(volumeOf(spec, 'work').persistentVolumeClaim.claimName).toBe(claim.metadata.name)
      expect(arg(spec.containers[0].args, '--out-dir')).toBe(`${mountOf(spec, 'work').mountPath}/audio`)
      expect(spec.securityContext.runAsNonRoot).toBe(true)
      expect(spec.containers[0].image).toBe(container.image)
    }
    expect(volumeOf(pod, 'course').configMap.name).toBe('kokoro-course')
    expect(mountOf(pod, 'course')).toMatchObject({ mountPath: arg(container.args, '--data-dir'), readOnly: true })
  })

  it('write the course JSON only in the final pass, after copying it out of the read-only ConfigMap', () => {
    const spec = finalPass.spec.template.spec
    const args: string[] = spec.containers[0].args
    expect(args).toEqual(expect.arrayContaining(['--update-json', '--no-generate']))
    expect(args).not.toContain('--shard')
    expect(arg(args, '--data-dir')).toBe('/work/course')
    expect(spec.initContainers[0].command.join(' ')).toContain('cp /course/*.json /work/course/')
  })
})

describe('deploy/Dockerfile', () => {
  const dockerfile = readFileSync(path.join(REPO_ROOT, 'deploy', 'Dockerfile'), 'utf8')

  it('is multi-stage, fetches the assets at build time, and runs as the non-root user the manifests expect', () => {
    expect(dockerfile.match(/^FROM /gm)?.length).toBeGreaterThanOrEqual(3)
    expect(dockerfile).toMatch(/^RUN npm ci\b/m)
    expect(dockerfile).toContain('COPY --from=build /app/assets ./assets')
    const user = /^USER (\d+):(\d+)$/m.exec(dockerfile)
    expect(user?.[1]).toBe(String(load('shards-job.yaml').spec.template.spec.securityContext.runAsUser))
    expect(user?.[1]).not.toBe('0')
  })

  it('names no registry host: every base image is a bare name the builder resolves', () => {
    const images = [...dockerfile.matchAll(/^ARG \w+_IMAGE=(\S+)$/gm)].map((match) => match[1])
    expect(images.length).toBeGreaterThanOrEqual(3)
    for (const image of images) {
      const first = image.split('/')[0]
      // A registry host is a first path component with a dot, a port or "localhost" (the image-reference rule).
      if (image.includes('/')) expect(first).not.toMatch(/[.:]|^localhost$/)
    }
    for (const line of dockerfile.split('\n').filter((text) => /^FROM /.test(text))) {
      expect(line).toMatch(/^FROM \$\{\w+_IMAGE\}( AS \w+)?$/)
    }
  })
})
