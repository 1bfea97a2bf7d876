/** Jest runs the pure TypeScript modules (no JupyterLab imports) under Node. */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/tests/labextension'],
  testMatch: ['**/*.spec.ts'],
  transform: {
    '^.+\\.tsx?$': [
      'ts-jest',
      {
        tsconfig: '<rootDir>/tsconfig.test.json'
      }
    ]
  }
};
