import { Controller, Get, Header, Logger, NotFoundException } from '@nestjs/common';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { SAME_ORIGIN_CSP_HEADER } from '../docs/same-origin-csp';

/** The page's files, beside the gateway's sources (not compiled: the browser runs them as they are). */
const ASSETS = 'apps/gateway/status-page';
const STATUS_PAGE_FILES = ['index.html', 'status.js', 'status.css'] as const;
type StatusPageFile = (typeof STATUS_PAGE_FILES)[number];

/** The folder holding the page, found upwards from here: from the sources and from dist/ alike. */
function assetsDir(dir = __dirname): string | undefined {
  const candidate = join(dir, ASSETS);
  if (existsSync(join(candidate, 'index.html'))) return candidate;
  return dirname(dir) === dir ? undefined : assetsDir(dirname(dir));
}

/**
 * The status page at `/`: static HTML, one script and one stylesheet, read once at start. The page
 * shows what the APIs it calls show (nodes, tasks, the middleware chain) and holds no data itself,
 * so it is public (public-routes.ts); the APIs keep their own authentication.
 */
@Controller()
export class StatusPageController {
  private readonly files: ReadonlyMap<StatusPageFile, string>;

  constructor() {
    const dir = assetsDir();
    if (!dir) {
      new Logger('StatusPage').warn(`${ASSETS} was not found: the status page is not served`);
    }
    this.files = new Map(
      dir ? STATUS_PAGE_FILES.map((file) => [file, readFileSync(join(dir, file), 'utf8')]) : [],
    );
  }

  private file(name: StatusPageFile): string {
    const content = this.files.get(name);
    if (content === undefined) throw new NotFoundException('the status page is not installed');
    return content;
  }

  @Get()
  @Header('content-type', 'text/html; charset=utf-8')
  @Header('content-security-policy', SAME_ORIGIN_CSP_HEADER)
  @Header('cache-control', 'no-cache')
  page(): string {
    return this.file('index.html');
  }

  @Get('status-page/status.js')
  @Header('content-type', 'text/javascript; charset=utf-8')
  @Header('cache-control', 'no-cache')
  script(): string {
    return this.file('status.js');
  }

  @Get('status-page/status.css')
  @Header('content-type', 'text/css; charset=utf-8')
  @Header('cache-control', 'no-cache')
  style(): string {
    return this.file('status.css');
  }
}
