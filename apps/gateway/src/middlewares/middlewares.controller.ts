import { Body, Controller, Delete, Get, HttpCode, Param, Patch, Put } from '@nestjs/common';
import { AdminOnly } from '@protes/auth';
import { ChainService, ChainValidationError, type ChainView } from '@protes/distribution';
import { InvalidRequestException } from '../common/tes-exception.filter';

/** A chain that cannot be used is the client's mistake: a 400 naming each field. */
async function validated(change: Promise<ChainView>): Promise<ChainView> {
  try {
    return await change;
  } catch (error) {
    if (error instanceof ChainValidationError) throw new InvalidRequestException(error.errors);
    throw error;
  }
}

/**
 * Runtime management of the middleware chain. Every change is validated, stored, and in effect for
 * the next task on every gateway sharing the store. Only middlewares registered at start can be
 * named: nothing is loaded or run from a request. Admin only once the gateway has authentication.
 */
@AdminOnly()
@Controller('protes/v1/middlewares')
export class MiddlewaresController {
  constructor(private readonly chain: ChainService) {}

  /** The chain in effect, where it comes from, and the registered middleware names. */
  @Get()
  get(): Promise<ChainView> {
    return this.chain.describe();
  }

  /** `{"chain": [...]}` replaces the whole chain, which is also how entries are reordered. */
  @Put()
  replace(@Body() body: unknown): Promise<ChainView> {
    return validated(this.chain.replace(body));
  }

  /** `{"enabled"?, "settings"?, "onFailure"?}` for entry `2` or group member `2.0`. */
  @Patch(':index')
  patch(@Param('index') index: string, @Body() body: unknown): Promise<ChainView> {
    return validated(this.chain.patch(index, body));
  }

  /** Forgets the stored chain: the configured one is in effect again. */
  @Delete()
  @HttpCode(200)
  reset(): Promise<ChainView> {
    return this.chain.reset();
  }
}
