import { globToRegExp } from './url-location';

describe('globToRegExp', () => {
  it('matches host globs case-insensitively, * across dots, ? one character', () => {
    const ebi = globToRegExp('*.ebi.ac.uk');
    expect(ebi.test('ftp.ebi.ac.uk')).toBe(true);
    expect(ebi.test('ftp.sra.EBI.ac.uk')).toBe(true);
    expect(ebi.test('ebi.ac.uk')).toBe(false);
    expect(ebi.test('ftp.ebi.ac.uk.evil.com')).toBe(false);
    expect(ebi.test('ftpxebi.ac.uk')).toBe(false);
    expect(globToRegExp('node?.example').test('node1.example')).toBe(true);
    expect(globToRegExp('node?.example').test('node12.example')).toBe(false);
    expect(globToRegExp('a+b(c)').test('a+b(c)')).toBe(true);
  });
});
