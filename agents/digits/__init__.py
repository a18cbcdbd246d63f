"""The digits world: scikit-learn's bundled 8x8 handwritten digits (no download), one idea per module.

data (the images as pixels / 16, a class subset such as 3 vs 7, a stratified seeded
train/test split), model (the MLP 64 -> width -> classes as an ``nn.Module`` factory, and
its dead hidden units). Harris's companion experiment to seed 000 (an MLP on MNIST 3 vs 7,
full-batch gradient descent) redone offline on these images: ``mesastack run harris-digits``.
"""
