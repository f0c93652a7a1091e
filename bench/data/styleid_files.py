"""The 60 input images of the StyleID evaluation protocol (Chung et al., CVPR 2024): 20 content
photos (MS-COCO, ``cnt/``) and 40 paintings (WikiArt, ``sty/``), 512x512 PNG, as published in
the StyleID repository at commit ``d4ea655dc1f7b19e0eac9553ad087132d18bb96f``, each pinned by its SHA-256.

The images are the StyleID authors' selection from those collections and carry their licences
(research use; do not redistribute): stylebench downloads them, it does not ship them.
"""

COMMIT = "d4ea655dc1f7b19e0eac9553ad087132d18bb96f"
BASE_URL = f"https://raw.githubusercontent.com/jiwoogit/StyleID/{COMMIT}/data/"

#: ``split/name`` -> SHA-256 of the file's bytes.
FILES: dict[str, str] = {
    "cnt/00.png": "f4bce52a54999556e9fe95d018c1ee2d7b5735883063ea68f33a7be66b068c60",
    "cnt/01.png": "f529a268302a8621bb504931d1754dd249b1d689212be895b78f87e77713fae5",
    "cnt/02.png": "13186975b9ffca5cd8900b3acf8daab88d0fd08ce550cfc5ada40ef7960c0f37",
    "cnt/03.png": "c262f02a8de56cfc2dacaaaffec87f80a272cfac0b7a376bba6532a983909b96",
    "cnt/04.png": "e5be6a63d8f5c621f777082f5ff1dba268a0691e5124effd2a46b53db1764731",
    "cnt/05.png": "c12f45ed85fd38905146b7f9900d3ceb98250de925d9ddd98c5f48a5ef733414",
    "cnt/06.png": "3d3eb67df7eb6a1c20733681ff692bfad9afd5b29d98c8a8f86bb78b4594ec88",
    "cnt/07.png": "20fcb4bd16fffaa33bdb33096295dffb8579333c44056d725b399357762299aa",
    "cnt/08.png": "d9510b8ebdae065b6af9efce047f91c82c03bd188a1a8fcd142e22b5fcf5c01a",
    "cnt/09.png": "d044e5b39fbf4297c7b895368fb0e588e6c592e071d0d3c957922bfb26297057",
    "cnt/10.png": "c1448a1893d138daffc0bfdd62372f0b2a2c39e783390b5fee5908b7dbd179d1",
    "cnt/11.png": "ad761059c8e04496666daaf2fe524ede8e0a3d7f7915950ee94e4d5b1a52fb1d",
    "cnt/12.png": "4031fc49f8423fdb619a563eabf4f255955cca0fddce8bbf135cf84a830cdd9d",
    "cnt/13.png": "546ebfc4212244f56a2c831a3673f0cd3ff4625a61e7b087e5fe519ca579a553",
    "cnt/14.png": "98b9d464b806a6000354e4ec0c29c9354f09ca43b26d45d6a2f78a5ff62fb013",
    "cnt/15.png": "1093a39c7259db3f205b991c3d9bcfc4b09dcf748e83427cd6cb9579045003fd",
    "cnt/16.png": "ad53d992b335bdd7306511702292b7f9f82358806d769c74c0c4d8ff13ad4059",
    "cnt/17.png": "e0d43689dc72f3b555d5062c80098ee9a48faae80406b7c681bda613546f51d7",
    "cnt/18.png": "131dda0f5bc8ff80296f315a9e2356a7dd447c7d52db595cea2d16e0c3c2bfa6",
    "cnt/19.png": "ddf1eab2b6df5e5775c45664003b213d801bab7704aae1a3fbcf5fe3a453d5bc",
    "sty/00.png": "2383fa8a3494ad02f9bbd21f853e43ba89fc99f2714308f8daa44e7cd4389b2f",
    "sty/01.png": "6df9338f0c9224c1ec5f4828d816c2af2ac1ddf94d22e313b61d2c1b59868f77",
    "sty/02.png": "fa54b4b5e8b6e80e4d21f4a9927d4f541f605b2e8d48dc15a69612687a8c2384",
    "sty/03.png": "24d5c5467d6c9ba9cec2283e7b8bf422463b619978264d84ddf47b9745fe688b",
    "sty/04.png": "e8dc1825b94b7f52851186126bfc190eb0995e0020ac903740eac59a1f5d6573",
    "sty/05.png": "4f9c06a4eb46831f543ce7bf30f2c57e123e57b369c0a765caeb260b5752c1da",
    "sty/06.png": "4f09914ee22badcbe227691ad35e53f63280975395cfc85d294515a71c56c430",
    "sty/07.png": "eff635a3f3da87090ff3f796c93fe52c8748a77774b6459da6642af0f8a7fa52",
    "sty/08.png": "316929ec51b8d8a95b65ad769b5bdf482231439bb4923dcaa26da1ccdacb536d",
    "sty/09.png": "a2932ad4ae31af0e98b29b1e26c57c99b03916f20daceaa3ef2648f9e1c045cf",
    "sty/10.png": "45a43c4d5486e3be3d3607a23ab80d2d72fab954b76e9eb0975415421dcccddf",
    "sty/11.png": "5b66ee182f87bc89206c341ae8a463b703164ccc906f7081924b41109becdf1a",
    "sty/12.png": "0b94be158145997b45839f8ccc462ee2279649598415fea6d24535adf5c142f1",
    "sty/13.png": "1754ff8495a137806c6a41a142e3028d1abe6e28400c52b8bb9ec5736a2bb04d",
    "sty/14.png": "d855c6d14562193362c5e6a46414950464fda26c023347042a41e4992be8f321",
    "sty/15.png": "2ca17a714d7ee653b7801e64db1d10c4b44acc0cb6537c5e8d7c2517133eec89",
    "sty/16.png": "917f23957d311df584068385c5c45f5558e43c8337ada0e0d18d605c0efd0750",
    "sty/17.png": "56f162b4ca32ad747e40db13eb4ac4b76dc727f71012de11ea5812e21aeca697",
    "sty/18.png": "ee201a5eec818b6491b0e63778276d27e6e39884702c7448beedf83af43b9cb7",
    "sty/19.png": "5eecc7bdc556cc9412ec3b22e5cd9435cfd6eea51504b2b6f13383111d006ce1",
    "sty/20.png": "706a21e9bb43c97854402af13e17a480139d8a4e95d734ba5816000f22696cdf",
    "sty/21.png": "e3e6fe069b3ea305e0d8e45335f925540d257d06ada27dde7a4422cc1d214697",
    "sty/22.png": "c2956caf4ce9d2395758e7d24a10b325cd91e9c9fcb4732e4734d46ee2dd4dbe",
    "sty/23.png": "2fe35a9591ea5edaf38605dc444a9d9e82571fff7c1f8d3195e3085e18e6a74f",
    "sty/24.png": "a6162c68642b2f594c16f0fabf9885322238ee6b3ffd91323240da57f6574516",
    "sty/25.png": "ef4106b22217b8662f56306982436e95f70381a159a6b6f95979ef2e3c9c81e7",
    "sty/26.png": "3e8b0f0c6e41e701d4cde8c75ab1eba773bdca742f1685c3c5e30a96192ff877",
    "sty/27.png": "0b3aea62abef922d9cbffeb09b2ff17b899bdf1580a7574aae75a914b9a012a5",
    "sty/28.png": "adc946620bfbabc3fb0d36d046078044643cf447d606ab1cbab7e6f150ae16ee",
    "sty/29.png": "eae0363d3bd5477d72725bb36c98260f2211fafc0c252b06c49924c18b5ebf9e",
    "sty/30.png": "03d7235434a9989851c40eb7c1ca18ce37b0652966dfa3ce634a0419eb052d28",
    "sty/31.png": "f923ab8f8f4cfbd359f9ece7c22e7b2730f8ea2191d3acbb4dd8ac3fc3556c81",
    "sty/32.png": "c3f5c4583300c387e7874d3fee191c8531a00a6445930652ea87af834828a47b",
    "sty/33.png": "a25bf251c0262009ac404d590290c11a03df598b9745fd41e44484f0873fe40f",
    "sty/34.png": "abf6de5548e3a663e508ed6e3848e4eaf0d52f163ef45ce9089b3170c428eb2b",
    "sty/35.png": "07456d97e4ba2d490148f84784ff06501d4c5fc0badcc45320a83b93e0c0ea39",
    "sty/36.png": "9073aa818465d8ee4829bf5c6986a5768207a557f15fc2668e53059cd2f7774e",
    "sty/37.png": "90c0bacf16e74f34a9887bfd34d3b3e6b65fe56ea7db267e5b6a7fbac87ddec3",
    "sty/38.png": "f66ba3c5894a6354e3c45f037f89813eb735ad74d771b2378b27b8f59626bb5c",
    "sty/39.png": "2ee96306fc37d6afc21400d88d843f1fa5342719f945dcb14f8b73f808713861",
}
