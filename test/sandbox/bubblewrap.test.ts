import { BubblewrapDriver } from '../../src/sandbox/bubblewrap/bubblewrap-driver.js';
import { missingBubblewrap } from '../helpers/capabilities.js';
import { runDriverSuite } from './driver-suite.js';

const wanted = !process.env.DRIVERS || process.env.DRIVERS.split(',').includes('bubblewrap');
const unavailable = wanted ? missingBubblewrap() : 'not selected by DRIVERS';

runDriverSuite({
  name: 'bubblewrap',
  createDriver: async () => new BubblewrapDriver(),
  ...(unavailable ? { unavailable } : {}),
});
