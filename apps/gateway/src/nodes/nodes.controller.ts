import { Controller, Get, NotFoundException, Param } from '@nestjs/common';
import { AdminOnly } from '@protes/auth';
import { NodeRegistry, type NodeStatus } from '@protes/distribution';

/**
 * proTES's own view of the federation: each node with its health, circuit breaker, load, TES
 * version, location and what it advertises. Node URLs and credentials are never shown.
 */
@AdminOnly()
@Controller('protes/v1/nodes')
export class NodesController {
  constructor(private readonly registry: NodeRegistry) {}

  @Get()
  async list(): Promise<{ nodes: NodeStatus[] }> {
    return { nodes: await this.registry.status() };
  }

  @Get(':name')
  async get(@Param('name') name: string): Promise<NodeStatus> {
    const node = (await this.registry.status()).find((n) => n.name === name);
    if (!node) throw new NotFoundException(`node ${name} not found`);
    return node;
  }
}
