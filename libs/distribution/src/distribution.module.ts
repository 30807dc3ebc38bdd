import { HttpModule } from '@nestjs/axios';
import { Module } from '@nestjs/common';
import { ForwardingService } from './forwarding.service';
import { NodeRegistry } from './node-registry';
import { NodeSelector } from './node-selector';

@Module({
  imports: [HttpModule],
  providers: [NodeRegistry, NodeSelector, ForwardingService],
  exports: [NodeRegistry, NodeSelector, ForwardingService],
})
export class DistributionModule {}
