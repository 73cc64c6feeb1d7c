/**
 * The model catalog: each pre-trained model by name, with its files (pinned by sha256), its
 * labels and the preprocessing recipe it was trained with. Files are found in a local models
 * directory first and otherwise downloaded from the public source at a pinned revision.
 */

/** How a model's input is prepared and its output cleaned, following the brainchop recipe. */
export interface ModelRecipe {
  /** Intensity normalisation of the conformed volume: min-max to [0, 1], or 5th/95th percentiles. */
  normalization: 'minmax' | 'quantile';
  /**
   * Crop to the bounding box of voxels above this fraction of the normalised maximum
   * (0 means above zero), plus `cropPadding` voxels on each side.
   */
  cropThreshold: number;
  cropPadding: number;
  /** Keep only the largest 26-connected component of the non-background labels. */
  largestComponent: boolean;
  /** Keras axes (D, H, W) are NIfTI (x, y, z), as brainchop feeds its models. */
  transposed: boolean;
}

/** One file of a model, as the catalog pins it. */
export interface CatalogFile {
  name: string;
  bytes: number;
  sha256: string;
}

export interface CatalogEntry {
  name: string;
  description: string;
  /** Directory of the model relative to a models root laid out like brainchop's data. */
  path: string;
  /** Directory of the model in the source repository at `SOURCE_REVISION`. */
  sourcePath: string;
  files: CatalogFile[];
  /** File holding label names (colormap.json with `labels`, or labels.json). */
  labelsFile?: string;
  classes: number;
  recipe: ModelRecipe;
}

/** Public source of the brainchop models, pinned to one revision. */
export const SOURCE_BASE_URL = 'https://raw.githubusercontent.com/neuroneural/brainchop';
export const SOURCE_REVISION = '4c87885f3a2a8835e260d521dcec922b58d91d41';

const MINMAX: ModelRecipe = {
  normalization: 'minmax',
  cropThreshold: 0,
  cropPadding: 18,
  largestComponent: true,
  transposed: true,
};

function recipe(overrides: Partial<ModelRecipe>): ModelRecipe {
  return { ...MINMAX, ...overrides };
}

function file(name: string, bytes: number, sha256: string): CatalogFile {
  return { name, bytes, sha256 };
}

/** Every catalogued model. */
export const CATALOG: readonly CatalogEntry[] = [
  {
    name: 'model5_gw_ae',
    description: 'grey/white matter, 5 channels, fast (labels: 1 WM, 2 GM)',
    path: 'models/model5_gw_ae',
    sourcePath: 'public/models/model5_gw_ae',
    files: [
      file('model.json', 9356, '7aabd59933bd3528f120107165f5dd577c5b749cf91fc2f949987d7bc620ce59'),
      file(
        'group1-shard1of1.bin',
        22392,
        'ca0d1b8ff72f8719d9525acaf9a1f1cb66dbb173b4ee1d7540f99e022cf4bfd8',
      ),
      file(
        'colormap3.json',
        137,
        '71f3ce5c5d9d0db1208937f55fa35b9970ce63c1a24753cf74c471fe9a3c27eb',
      ),
    ],
    labelsFile: 'colormap3.json',
    classes: 3,
    recipe: recipe({ cropPadding: 18 }),
  },
  {
    name: 'model11_gw_ae',
    description: 'grey/white matter, 11 channels, used as a brain mask',
    path: 'models/model11_gw_ae',
    sourcePath: 'public/models/model11_gw_ae',
    files: [
      file('model.json', 9054, '09d1afa152a907a545ce814842613559fbfe2bfdaab0bc8708ea79cd3e17229c'),
      file(
        'group1-shard1of1.bin',
        93160,
        '7f93edb82252cdc59e3faf3ae5a27622bc748d02db64df2cf429ad807891c261',
      ),
    ],
    classes: 3,
    recipe: recipe({ cropPadding: 0 }),
  },
  {
    name: 'model20chan3cls',
    description: 'grey/white matter, 20 channels, high accuracy (labels: 1 WM, 2 GM)',
    path: 'models/model20chan3cls',
    sourcePath: 'public/models/model20chan3cls',
    files: [
      file('model.json', 28897, '53932edad5330073bbac906049a31b84a2ca3d8c65d658feea848130004b984b'),
      file('model.bin', 348732, 'aecc03e3db596bfffab0ea1143f0848dbf4da4e317e04ef202986c6888cd467f'),
      file(
        'colormap.json',
        137,
        '71f3ce5c5d9d0db1208937f55fa35b9970ce63c1a24753cf74c471fe9a3c27eb',
      ),
    ],
    labelsFile: 'colormap.json',
    classes: 3,
    recipe: recipe({ normalization: 'quantile', cropThreshold: 0.2, cropPadding: 0 }),
  },
  {
    name: 'model18cls',
    description: 'subcortical structures + grey/white matter, 18 classes, 21 channels',
    path: 'models/model18cls',
    sourcePath: 'public/models/model18cls',
    files: [
      file('model.json', 28638, '57346ac8b66ebe8d92296b1cf9988143be4949b6ef9695a790ef3d7fba3fb81b'),
      file('model.bin', 385632, '725096439f64ece1ca45ec3c5115c9fa6004f6538cac3032b85966d3772b605e'),
      file(
        'colormap.json',
        608,
        '10ebff5980dd2afe1a1407dd951d1258dfc95fec51641bab9b4a9b88d76808c5',
      ),
    ],
    labelsFile: 'colormap.json',
    classes: 18,
    recipe: recipe({ cropThreshold: 0.2, cropPadding: 0 }),
  },
  {
    name: 'model30chan18cls',
    description: 'subcortical structures + grey/white matter, 18 classes, 30 channels',
    path: 'models/model30chan18cls',
    sourcePath: 'public/models/model30chan18cls',
    files: [
      file('model.json', 28638, 'd28521c0965e452c371314e4b5b4dcef7b19aa91241b17ef894ac24952139701'),
      file('model.bin', 784152, '7039651d91c4cee0b7b1ddfe93fe2f5cb9b71d99f5a126fdef407e2a36bb52d4'),
      file(
        'colormap.json',
        608,
        '10ebff5980dd2afe1a1407dd951d1258dfc95fec51641bab9b4a9b88d76808c5',
      ),
    ],
    labelsFile: 'colormap.json',
    classes: 18,
    recipe: recipe({ cropThreshold: 0.2, cropPadding: 0 }),
  },
  {
    name: 'model30chan50cls',
    description: 'aparc+aseg with merged cortical homologues, 50 classes, 30 channels',
    path: 'models/model30chan50cls',
    sourcePath: 'public/models/model30chan50cls',
    files: [
      file('model.json', 28901, '105db3a77c49fb3e7d59c6e9506981e13223b76dcd4c4b407640d422409e5353'),
      file('model.bin', 788120, 'a7e597568dc7750c64cce8c64c4ca3ec7215716949efd741f19904da1baffa81'),
      file(
        'colormap.json',
        1722,
        '3895b0c40b1ef299bda68ac79bce6f1bbbb6e28d9dd990ef121402c08bc34645',
      ),
    ],
    labelsFile: 'colormap.json',
    classes: 50,
    recipe: recipe({ normalization: 'quantile', cropPadding: 0 }),
  },
  {
    name: 'model21_104class',
    description: 'aparc+aseg (Desikan-Killiany), 104 classes, 21 channels',
    path: 'models/model21_104class',
    sourcePath: 'public/models/model21_104class',
    files: [
      file('model.json', 8504, 'b80a9ac7dccaecc08d59a7f2285a1dce50305d317f505b437518773ab2b27446'),
      file(
        'group1-shard1of1.bin',
        345488,
        '8a0aa1e2d94e5edc94c54aed900da978d2a1388bee4621cee05e473db64b84af',
      ),
      file(
        'colormap.json',
        3904,
        'a450db760609a91a38b3ff1810a465841c39b1ff138cab005071c897ad0da069',
      ),
    ],
    labelsFile: 'colormap.json',
    classes: 104,
    recipe: recipe({ cropPadding: 0 }),
  },
  {
    name: 'mindgrab',
    description: 'omnimodal brain extraction (skull stripping), 2 classes, 15 channels',
    path: 'models/mindgrab',
    sourcePath: 'public/models/mindgrab',
    files: [
      file('model.json', 68331, '24d1bcccba736a83c80b336ca349297f4839ae08b8ec92ec72c5d6adb9afe76e'),
      file('model.bin', 584948, 'c9a01490fe2d13acc1515fd019b69db176ebe6f40c9b84aeb77f25acbc2ee0f3'),
      file(
        'colormap.json',
        108,
        'b29809105747c752c889036bb953744cbd63b67f25b9c1b0657eaf00841fd1bf',
      ),
    ],
    labelsFile: 'colormap.json',
    classes: 2,
    recipe: recipe({ cropPadding: 20 }),
  },
  {
    name: 'model11_50class',
    description: 'aparc+aseg, 50 classes, 11 channels',
    path: 'v3_models/model11_50class',
    sourcePath: 'v3/models/model11_50class',
    files: [
      file('model.json', 9650, '18b31ddadd4eb09f67296dc7424543196f153ae2ba4e1f29bfc39a2a7d13a924'),
      file(
        'group1-shard1of1.bin',
        108528,
        '3b8c57b9ae0102db487224cf80852a2cdd5e30f7e94e488c82502a7d434f7472',
      ),
      file('labels.json', 1442, '871baed9f7a942fb7485c35d812dc5fc2664750ed6f00b4c24e3cd61176f7edc'),
    ],
    labelsFile: 'labels.json',
    classes: 50,
    recipe: recipe({ cropPadding: 0 }),
  },
  {
    name: 'model21_3class',
    description: 'grey/white matter, 21 channels, trained on 64^3 patches',
    path: 'v3_models/model21_3class',
    sourcePath: 'v3/models/model21_3class',
    files: [
      file('model.json', 9644, 'ebc3c12f504b9733ddf5cb12d44ebb4032e68feb35a035328e36587ed6a9f2cc'),
      file(
        'group1-shard1of1.bin',
        384312,
        '70538f008561eb5d8069894f5cfbd8065af200703e46515785e8e2583f167a2a',
      ),
      file('labels.json', 62, '6e4d9faf315734b3d1d4ea2d592f0e8cd15dbb4354a77555773dc2a94f6bb7bd'),
    ],
    labelsFile: 'labels.json',
    classes: 3,
    recipe: recipe({ cropPadding: 0 }),
  },
  {
    name: 'mnm_tfjs_me_test',
    description: 'grey/white matter, 21 channels, trained on 38^3 patches',
    path: 'v3_models/mnm_tfjs_me_test',
    sourcePath: 'v3/models/mnm_tfjs_me_test',
    files: [
      file('model.json', 7598, '2b9eaee870b0c7da8c1f508b123296028994eb651ca5092def238f694d998c47'),
      file(
        'group1-shard1of1.bin',
        288888,
        'b5e99eb5e5f68ca4f36a56061ccaf93b0703393249257766fe637a458e0f5efa',
      ),
      file('labels.json', 62, '6e4d9faf315734b3d1d4ea2d592f0e8cd15dbb4354a77555773dc2a94f6bb7bd'),
    ],
    labelsFile: 'labels.json',
    classes: 3,
    recipe: recipe({ cropPadding: 0 }),
  },
];

/** The recipe used for a model directory that is not in the catalog. */
export const DEFAULT_RECIPE: ModelRecipe = MINMAX;

/** Find a catalog entry by name, or undefined. */
export function catalogEntry(name: string): CatalogEntry | undefined {
  return CATALOG.find((entry) => entry.name === name);
}

/** The public URL of one file of a catalogued model at the pinned revision. */
export function sourceUrl(
  entry: CatalogEntry,
  fileName: string,
  baseUrl = SOURCE_BASE_URL,
): string {
  return `${baseUrl}/${SOURCE_REVISION}/${entry.sourcePath}/${fileName}`;
}
