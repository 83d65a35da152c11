// What the default sandbox image contains and how its cache tag is derived: a hash of the
// Debian package list and the ringfence layer, so any change to either builds a new image.
import { createHash } from 'node:crypto';

export const DEFAULT_IMAGE_NAME = 'ringfence-sandbox';
export const BASE_IMAGE_NAME = 'ringfence-base';
export const DEBIAN_SUITE = 'bookworm';

/** Debian packages debootstrap adds to minbase (python3 also runs the in-sandbox supervisor). */
export const IMAGE_PACKAGES: readonly string[] = [
  'bash',
  'coreutils',
  'git',
  'curl',
  'ca-certificates',
  'python3',
  'nodejs',
];

/** The ringfence layer on top of the imported Debian root: user 1000 and /workspace. */
export function ringfenceLayer(baseRef: string): string {
  return [
    `FROM ${baseRef}`,
    'RUN groupadd -g 1000 agent && useradd -u 1000 -g 1000 -d /tmp -s /bin/bash -M agent \\',
    ' && mkdir -p /workspace /.ringfence && chown 1000:1000 /workspace \\',
    ' && rm -rf /var/cache/apt/archives/*.deb /var/lib/apt/lists/* \\',
    // Nothing secret-shaped or unused stays in the image (SECURITY.md layer 2 expects none).
    ' && rm -rf /root /home /srv /media /mnt /opt /boot /etc/shadow* /etc/gshadow* \\',
    '    /etc/ssl/private /etc/machine-id /var/lib/dbus/machine-id',
    'ENV PATH=/usr/local/bin:/usr/bin:/bin LANG=C.UTF-8 HOME=/tmp',
    'LABEL ringfence.image=default',
    'USER 1000:1000',
    'WORKDIR /workspace',
    'CMD ["/bin/bash"]',
    '',
  ].join('\n');
}

/** Cache tag of the imported Debian root: sha256 over suite and package list. */
export function baseImageTag(): string {
  const h = createHash('sha256');
  h.update(`${DEBIAN_SUITE}\n${[...IMAGE_PACKAGES].sort().join(',')}\n`);
  return h.digest('hex').slice(0, 12);
}

/** Cache tag of the final image: sha256 over the base tag and the layer text. */
export function imageTag(): string {
  const h = createHash('sha256');
  h.update(`${baseImageTag()}\n`);
  h.update(ringfenceLayer(`${BASE_IMAGE_NAME}:TAG`));
  return h.digest('hex').slice(0, 12);
}

export function defaultImageRef(name: string = DEFAULT_IMAGE_NAME): string {
  return `${name}:${imageTag()}`;
}
