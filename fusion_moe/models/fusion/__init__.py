from .concat import ConcatConvFuser

__all__ = ['ConcatConvFuser']
