import { Controller, Get, Header, Module, Post, Req } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import type { FastifyRequest } from 'fastify';
import { readFileSync } from 'node:fs';

/**
 * The bench's framework baseline: a bare NestJS application on Fastify (the gateway's stack, with
 * nothing of proTES) answering, for each path, the bytes read from the file named on the command
 * line (a JSON object of path → body), to GET and POST alike. Between bare Fastify and the
 * gateway, it shows how much of the gap is the framework's own routing.
 */
const bodies = JSON.parse(readFileSync(process.argv[2], 'utf8')) as Record<string, string>;

@Controller()
class SameBytesController {
  @Get('*')
  @Header('content-type', 'application/json; charset=utf-8')
  get(@Req() request: FastifyRequest): string {
    return bodies[request.url.split('?', 1)[0]] ?? '{}';
  }

  @Post('*')
  @Header('content-type', 'application/json; charset=utf-8')
  post(@Req() request: FastifyRequest): string {
    return this.get(request);
  }
}

@Module({ controllers: [SameBytesController] })
class BaselineModule {}

async function main(): Promise<void> {
  const app = await NestFactory.create<NestFastifyApplication>(
    BaselineModule,
    new FastifyAdapter(),
    { logger: false },
  );
  await app.listen(0, '127.0.0.1');
  console.log(`nest baseline listening on ${await app.getUrl()}`);
}

void main();
