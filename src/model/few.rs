//! `Few`: a list of at most `N` copyable items, held in place. What a step's short-lived lists
//! use instead of a `Vec` (the files a writeback pass takes in order, the PTEs mapping a folio,
//! reclaim's candidate frames), so that a step allocates nothing: the explorers take millions
//! of steps a second, and each allocation and free was a few percent of a step.

/// At most `N` items of `T`, in the order pushed.
#[derive(Clone, Copy, Debug)]
pub struct Few<T: Copy + Default, const N: usize> {
    items: [T; N],
    len: usize,
}

impl<T: Copy + Default, const N: usize> Default for Few<T, N> {
    fn default() -> Self {
        Few { items: [T::default(); N], len: 0 }
    }
}

impl<T: Copy + Default, const N: usize> Few<T, N> {
    /// Appends `x`. The bound `N` comes from `crate::limits`, which the scenario's compiler
    /// enforces, so exceeding it is a model bug.
    pub fn push(&mut self, x: T) {
        assert!(self.len < N, "model bug: more than {N} items in a list bounded by the limits");
        self.items[self.len] = x;
        self.len += 1;
    }
}

impl<T: Copy + Default, const N: usize> std::ops::Deref for Few<T, N> {
    type Target = [T];
    fn deref(&self) -> &[T] {
        &self.items[..self.len]
    }
}

impl<T: Copy + Default, const N: usize> std::ops::DerefMut for Few<T, N> {
    fn deref_mut(&mut self) -> &mut [T] {
        &mut self.items[..self.len]
    }
}

impl<T: Copy + Default, const N: usize> FromIterator<T> for Few<T, N> {
    fn from_iter<I: IntoIterator<Item = T>>(iter: I) -> Self {
        let mut out = Few::default();
        for x in iter {
            out.push(x);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::Few;

    #[test]
    fn keeps_what_was_pushed_in_order() {
        let mut f: Few<u8, 4> = (1..4).collect();
        f.push(9);
        assert_eq!(&*f, &[1, 2, 3, 9]);
        f.swap(0, 3);
        assert_eq!(&*f, &[9, 2, 3, 1]);
    }

    #[test]
    #[should_panic(expected = "more than 2 items")]
    fn refuses_more_than_its_bound() {
        let _: Few<u8, 2> = (0..3).collect();
    }
}
