import { Controller, Get } from '@nestjs/common';
import { openApiDocument } from './openapi';

@Controller('ga4gh/tes/v1')
export class DocsController {
  private readonly document = openApiDocument();

  /** The API description, built from the same schemas that validate requests. */
  @Get('openapi.json')
  openapi(): object {
    return this.document;
  }
}
