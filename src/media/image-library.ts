/**
 * The image library (sharp, over libvips), loaded when the first thumbnail is asked for and never
 * before: it is a native module of ~20 MB that a gateway nobody sends pictures to does not need in
 * memory, and one that may be missing (the single executable carries it beside itself, not inside:
 * docs/gateway-image.md). Without it thumbnails are refused with a clear error and the originals
 * stay downloadable; the cause is logged once.
 */
import { createRequire } from 'node:module';
import type { Logger } from 'pino';
import type sharpModule from 'sharp';

export type Sharp = typeof sharpModule;

/** How much of the machine libvips may use (a 1 GB, 2-core gateway). */
export interface ImageLibraryLimits {
  /** Threads libvips uses for one image (sharp.concurrency). */
  threadsPerImage: number;
}

export class ImageLibrary {
  private loading: Promise<Sharp | undefined> | undefined;
  private failure: string | undefined;

  constructor(
    private readonly log: Pick<Logger, 'warn' | 'info'>,
    private readonly limits: ImageLibraryLimits = { threadsPerImage: 1 },
    /** How to load the module (tests replace it to see the library missing). */
    private readonly load: () => Promise<Sharp> = loadSharp,
  ) {}

  /** The library, or undefined when it cannot be loaded (`unavailableReason` says why). */
  get(): Promise<Sharp | undefined> {
    this.loading ??= this.load().then(
      (sharp) => {
        // No operation cache: thumbnails are written to disk once, so libvips' cache of recent
        // operations (50 MB and 20 open files by default) would only hold memory on a small board.
        sharp.cache(false);
        sharp.concurrency(this.limits.threadsPerImage);
        this.log.info({ libvips: sharp.versions.vips, sharp: sharp.versions.sharp }, 'image library loaded for thumbnails');
        return sharp;
      },
      (err: unknown) => {
        this.failure = String((err as Error).message ?? err).split('\n')[0];
        this.log.warn({ err }, 'the image library (sharp) could not be loaded: thumbnails are refused, originals are still served');
        return undefined;
      },
    );
    return this.loading;
  }

  /** Why the library did not load (undefined while it has not been tried or when it loaded). */
  get unavailableReason(): string | undefined {
    return this.failure;
  }
}

/**
 * sharp through a dynamic import (bundles mark it external: a native module cannot be bundled).
 * Inside the single executable, `import()` becomes the embedder's `require`, which only knows
 * Node's built-in modules; then sharp is looked up on disk from the executable's own folder
 * (`node_modules` beside it, where firmware-gateway/build.sh puts it).
 */
async function loadSharp(): Promise<Sharp> {
  try {
    return ((await import('sharp')) as { default: Sharp }).default;
  } catch (first) {
    try {
      const fromDisk = createRequire(process.execPath)('sharp') as Sharp | { default: Sharp };
      return typeof fromDisk === 'function' ? fromDisk : fromDisk.default;
    } catch (second) {
      const firstLine = (err: unknown) => String((err as Error).message ?? err).split('\n')[0];
      throw new Error(`cannot load sharp: ${firstLine(first)}; nor from beside the executable: ${firstLine(second)}`);
    }
  }
}
