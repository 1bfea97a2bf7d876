import { Token } from '@lumino/coreutils';

import type { ICurrentProject as ICurrentProjectType } from './currentProject';

/** The project selected in the ML Platform sidebar, shared with the other panels. */
export type ICurrentProject = ICurrentProjectType;

export const ICurrentProject = new Token<ICurrentProject>(
  'jupyter-mlp:ICurrentProject',
  'The ML Platform project selected in the sidebar.'
);
