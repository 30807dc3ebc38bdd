import { haversineKm, nodeLocation } from './geo';
import { node } from './testing/fixtures';

describe('haversineKm', () => {
  const R = 6371.0088;

  it('measures great circles: a quarter of the equator, pole to pole, nothing', () => {
    const origin = { latitude: 0, longitude: 0 };
    expect(haversineKm(origin, { latitude: 0, longitude: 90 })).toBeCloseTo((Math.PI / 2) * R, 6);
    expect(
      haversineKm({ latitude: 90, longitude: 0 }, { latitude: -90, longitude: 42 }),
    ).toBeCloseTo(Math.PI * R, 6);
    expect(haversineKm(origin, origin)).toBe(0);
  });

  it('goes the short way across the antimeridian', () => {
    const a = { latitude: 0, longitude: 179 };
    const b = { latitude: 0, longitude: -179 };
    expect(haversineKm(a, b)).toBeCloseTo((2 / 360) * 2 * Math.PI * R, 6);
  });

  it('gives Heidelberg–Barcelona about 1025 km', () => {
    const heidelberg = { latitude: 49.3988, longitude: 8.6724 };
    const barcelona = { latitude: 41.3874, longitude: 2.1686 };
    expect(haversineKm(heidelberg, barcelona)).toBeGreaterThan(1000);
    expect(haversineKm(heidelberg, barcelona)).toBeLessThan(1050);
  });
});

describe('nodeLocation', () => {
  it('locates a node by its location, else its region', () => {
    const regions = new Map([['eu-south', { latitude: 41, longitude: 2 }]]);
    const here = { latitude: 1, longitude: 1 };
    expect(nodeLocation(node('a', { location: here, region: 'eu-south' }), regions)).toBe(here);
    expect(nodeLocation(node('b', { region: 'eu-south' }), regions)).toEqual({
      latitude: 41,
      longitude: 2,
    });
    expect(nodeLocation(node('c'), regions)).toBeUndefined();
    expect(() => nodeLocation(node('d', { region: 'mars' }), regions)).toThrow(
      'node d is in region "mars", which setting "regions" does not define',
    );
  });
});
